import { execFile } from 'node:child_process';
import { randomBytes, X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createLogger } from '@rampart/service-kit';
import {
  TEST_NATS_URL,
  attestationTestEnv,
  createTestDatabase,
  createTestPki,
  createTestTenants,
  queryDatabase,
  removeBusPrefix,
  uniqueBusPrefix,
  type TestDatabase,
  type TestPki,
} from '@rampart/testing';
import pg from 'pg';
import type { QueryRunner } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAttestationConfig } from '../src/attestation.config.js';
import { TenantAuthorities } from '../src/ca/tenant-authorities.js';
import { TenantCaOneNext1732900000180 } from '../src/migrations/1732900000180-tenant-ca-one-next.js';
import { startAttestation, type RunningAttestation } from '../src/start-attestation.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const run = promisify(execFile);

describe(TenantAuthorities.name, () => {
  let db: TestDatabase;
  let pki: TestPki;
  let replicas: RunningAttestation[] = [];
  const prefix = uniqueBusPrefix('rot');
  const operatorToken = randomBytes(24).toString('hex');
  const keyEncryptionKey = randomBytes(32).toString('base64');

  const startReplica = (env: Record<string, string> = {}) =>
    startAttestation(
      loadAttestationConfig({
        ...attestationTestEnv({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, pki, operatorToken, keyEncryptionKey }),
        ...env,
      }),
      createLogger('attestation', 'silent'),
    );
  /** The CRL Number as openssl reads it. */
  const crlNumberOf = async (pem: string) => {
    const file = join(pki.dir, `crl-${randomBytes(4).toString('hex')}.pem`);
    await writeFile(file, pem);
    const { stdout } = await run('openssl', ['crl', '-in', file, '-noout', '-crlnumber']);
    return Number.parseInt(stdout.replace(/^crlNumber=(0x)?/, '').trim(), 16);
  };
  const statuses = async (tenantId: string) =>
    (
      await queryDatabase<{ status: string }>(db.url, `SELECT status FROM attestation.tenant_cas WHERE tenant_id = $1 ORDER BY status`, [
        tenantId,
      ])
    ).map((r) => r.status);
  const expiryOf = async (tenantId: string) =>
    (
      await queryDatabase<{ notAfter: Date }>(
        db.url,
        `SELECT not_after AS "notAfter" FROM attestation.tenant_cas WHERE tenant_id = $1 AND status = 'current'`,
        [tenantId],
      )
    )[0]!.notAfter.getTime();

  beforeAll(async () => {
    db = await createTestDatabase();
    pki = await createTestPki();
    replicas = [await startReplica(), await startReplica()];
    await createTestTenants(replicas[0]!.url, operatorToken);
  });

  afterAll(async () => {
    for (const replica of replicas) await replica.close();
    await removeBusPrefix(prefix);
    await db?.drop();
    await pki?.remove();
  });

  it('makes one successor and activates it once when two replicas run the rotation policy at the same time', async () => {
    const [a, b] = replicas as [RunningAttestation, RunningAttestation];
    const expiry = await expiryOf('acme');
    const prepared = await Promise.all([
      a.authorities.rotateIfDue('acme', expiry - 20 * DAY_MS),
      b.authorities.rotateIfDue('acme', expiry - 20 * DAY_MS),
    ]);
    expect(prepared.sort()).toEqual(['none', 'prepared']);
    expect(await statuses('acme')).toEqual(['current', 'next']);

    // Under the lock the second run sees the new CA, made now with the same validity, so this test's clock puts it
    // within 30 days of its own end too: it prepares that one's successor instead of activating anything again.
    const activated = await Promise.all([
      a.authorities.rotateIfDue('acme', expiry - 3 * DAY_MS),
      b.authorities.rotateIfDue('acme', expiry - 3 * DAY_MS),
    ]);
    expect(activated.sort()).toEqual(['activated', 'prepared']);
    expect(await statuses('acme')).toEqual(['current', 'next', 'retired']);

    // An Administrator's activation on two replicas at once: one activates, the other finds no successor.
    expect((await Promise.all([a.authorities.activateSuccessor('acme'), b.authorities.activateSuccessor('acme')])).sort()).toEqual([
      false,
      true,
    ]);
    expect(await statuses('acme')).toEqual(['current', 'retired', 'retired']);
    // The tenant still has an issuing CA: its CRL is served.
    expect(await a.authorities.crlPem('acme', Date.now())).toMatch(/BEGIN X509 CRL/);
  });

  it('refuses a second successor even from a writer that skips the lock (unique index)', async () => {
    const rows = await queryDatabase(
      db.url,
      `INSERT INTO attestation.tenant_cas (tenant_id, certificate_pem, encrypted_key, issuer_certificate_pem, not_before, not_after, status)
       SELECT tenant_id, certificate_pem, encrypted_key, issuer_certificate_pem, not_before, not_after, 'next'
         FROM attestation.tenant_cas WHERE tenant_id = 'globex' AND status = 'current' RETURNING id`,
    );
    expect(rows).toHaveLength(1);
    await expect(
      queryDatabase(
        db.url,
        `INSERT INTO attestation.tenant_cas (tenant_id, certificate_pem, encrypted_key, issuer_certificate_pem, not_before, not_after, status)
         SELECT tenant_id, certificate_pem, encrypted_key, issuer_certificate_pem, not_before, not_after, 'next'
           FROM attestation.tenant_cas WHERE tenant_id = 'globex' AND status = 'current'`,
      ),
    ).rejects.toThrow(/tenant_cas_one_next/);
    await queryDatabase(db.url, `DELETE FROM attestation.tenant_cas WHERE id = $1`, [(rows[0] as { id: string }).id]);
  });

  it('repairs a tenant left with no current CA and two successors by the race (migration), and the policy heals one left with a successor only', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      // The state the race left: the current CA retired, two successors, and (before this migration) no index to stop them.
      await client.query(`DROP INDEX attestation.tenant_cas_one_next`);
      await client.query(
        `UPDATE attestation.tenant_cas SET status = 'retired', retired_at = now() WHERE tenant_id = 'globex' AND status = 'current'`,
      );
      for (const offsetSeconds of [1, 2]) {
        await client.query(
          `INSERT INTO attestation.tenant_cas (tenant_id, certificate_pem, encrypted_key, issuer_certificate_pem, not_before, not_after, status)
           SELECT tenant_id, certificate_pem, encrypted_key, issuer_certificate_pem, not_before + make_interval(secs => $1), not_after, 'next'
             FROM attestation.tenant_cas WHERE tenant_id = 'globex' ORDER BY not_before LIMIT 1`,
          [offsetSeconds],
        );
      }
      expect(await statuses('globex')).toEqual(['next', 'next', 'retired']);
      await expect(replicas[0]!.authorities.crlPem('globex', Date.now())).rejects.toThrow();
      const runner = { query: (sql: string, params?: unknown[]) => client.query(sql, params) } as unknown as QueryRunner;
      await new TenantCaOneNext1732900000180().up(runner);
    } finally {
      await client.end();
    }
    expect(await statuses('globex')).toEqual(['current', 'retired', 'retired']);
    expect(await replicas[0]!.authorities.crlPem('globex', Date.now())).toMatch(/BEGIN X509 CRL/);

    // A successor but no current CA (one activation that failed half-way): the next policy run activates it.
    await queryDatabase(db.url, `UPDATE attestation.tenant_cas SET status = 'next' WHERE tenant_id = 'globex' AND status = 'current'`);
    expect(await replicas[1]!.authorities.rotateIfDue('globex', Date.now())).toBe('activated');
    expect(await statuses('globex')).toEqual(['current', 'retired', 'retired']);
  });

  it('goes on numbering the platform CA’s CRLs when the same key is certified again under the same name (RFC 5280 §5.2.3)', async () => {
    const [a] = replicas as [RunningAttestation];
    const start = Date.now();
    await a.authorities.platformCrlPem(start);
    await a.authorities.platformCrlPem(start + 2 * HOUR_MS);
    const before = await crlNumberOf(await a.authorities.platformCrlPem(start + 4 * HOUR_MS));
    expect(before).toBeGreaterThanOrEqual(3);
    // The root's key signs a new certificate of itself: same name and key, another certificate.
    const recertified = join(pki.dir, 'platform-ca-again.pem');
    await run('openssl', [
      'x509',
      '-in',
      pki.files.platformCa,
      '-signkey',
      join(pki.dir, 'platform-ca.key'),
      '-days',
      '400',
      '-set_serial',
      '4242',
      '-out',
      recertified,
    ]);
    const again = await startReplica({ PLATFORM_CA_CERT_FILE: recertified });
    replicas.push(again);
    expect(again.authorities.platformCertificatePem).not.toBe(a.authorities.platformCertificatePem);
    expect(new X509Certificate(again.authorities.platformCertificatePem).subject).toBe(
      new X509Certificate(a.authorities.platformCertificatePem).subject,
    );
    expect(await crlNumberOf(await again.authorities.platformCrlPem(start + 6 * HOUR_MS))).toBe(before + 1);

    // A series stored before it was keyed by name and key (by the certificate's fingerprint) is read and goes on.
    const fingerprint = new X509Certificate(again.authorities.platformCertificatePem).fingerprint256.replace(/:/g, '').toLowerCase();
    await queryDatabase(db.url, `DELETE FROM attestation.crls WHERE issuer LIKE 'platform:%'`);
    await queryDatabase(
      db.url,
      `INSERT INTO attestation.crls (issuer, crl_number, revoked_digest, pem, this_update) VALUES ($1, 41, 'legacy', 'legacy', now() - interval '1 day')`,
      [`platform:${fingerprint}`],
    );
    expect(await crlNumberOf(await again.authorities.platformCrlPem(start + 8 * HOUR_MS))).toBe(42);
  });
});
