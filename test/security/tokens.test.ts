import { randomBytes } from 'node:crypto';
import { loadAttestationConfig, startAttestation, type RunningAttestation } from '@rampart/attestation';
import { createLogger } from '@rampart/service-kit';
import { loadTelemetryConfig, startTelemetry, type RunningTelemetry } from '@rampart/telemetry';
import {
  TEST_NATS_URL,
  attestationTestEnv,
  createTestDatabase,
  createTestPki,
  createTestTenants,
  queryDatabase,
  removeBusPrefix,
  uniqueBusPrefix,
  waitFor,
  type TestDatabase,
  type TestPki,
} from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Well under the guards' 10 s cache: a revocation that arrives in time came by broadcast, not by expiry. */
const REVOCATION_DEADLINE_MS = 3_000;

describe('API tokens: list, revoke, expire', () => {
  let db: TestDatabase;
  let pki: TestPki;
  let attestation: RunningAttestation;
  /** Two replicas of one service: two token guards, each with its own cache. */
  const replicas: RunningTelemetry[] = [];
  let tokens: Readonly<Record<'acme' | 'globex' | 'acmeReader', string>>;
  const prefix = uniqueBusPrefix('tokens');
  const operator = randomBytes(24).toString('hex');

  async function call(url: string, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    pki = await createTestPki();
    attestation = await startAttestation(
      loadAttestationConfig(attestationTestEnv({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, pki, operatorToken: operator })),
      createLogger('attestation', 'silent'),
    );
    tokens = await createTestTenants(attestation.url, operator);
    for (let i = 0; i < 2; i++) {
      replicas.push(
        await startTelemetry(
          loadTelemetryConfig({ DATABASE_URL: db.url, NATS_URL: TEST_NATS_URL, BUS_PREFIX: prefix, HTTP_PORT: '0' }),
          createLogger('telemetry', 'silent'),
        ),
      );
    }
  });

  afterAll(async () => {
    for (const replica of replicas) await replica.close();
    await attestation?.close();
    await removeBusPrefix(prefix);
    await db?.drop();
    await pki?.remove();
  });

  it('lists a tenant its own tokens, never a token or its hash, and only to an Administrator', async () => {
    const created = await call(attestation.url, 'POST', '/v1/tokens', tokens.acme, { role: 'Contributor', expiresInSeconds: 3600 });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ role: 'Contributor', id: expect.any(String), token: expect.stringMatching(/^rmp_/) });
    expect(Date.parse(created.body.expiresAt as string) - Date.now()).toBeGreaterThan(3_500_000);

    const listed = await call(attestation.url, 'GET', '/v1/tokens', tokens.acme);
    expect(listed.status).toBe(200);
    const ids = (listed.body as Array<{ id: string }>).map((t) => t.id);
    expect(ids).toContain(created.body.id);
    expect(listed.body.find((t: { id: string }) => t.id === created.body.id)).toEqual({
      id: created.body.id,
      role: 'Contributor',
      createdAt: expect.any(String),
      expiresAt: created.body.expiresAt,
      revokedAt: null,
      active: true,
    });
    expect(JSON.stringify(listed.body)).not.toContain(created.body.token);
    expect(JSON.stringify(listed.body)).not.toContain(tokens.acme);

    const globex = await call(attestation.url, 'GET', '/v1/tokens', tokens.globex);
    expect((globex.body as Array<{ id: string }>).map((t) => t.id)).not.toContain(created.body.id);
    expect((await call(attestation.url, 'GET', '/v1/tokens', tokens.acmeReader)).status).toBe(403);
  });

  it('revokes a token at once on every replica, though each guard had cached it', async () => {
    const created = await call(attestation.url, 'POST', '/v1/tokens', tokens.acme, { role: 'Reader' });
    const doomed = created.body.token as string;
    // Each replica checks the token once and caches the answer.
    for (const replica of replicas) expect((await call(replica.url, 'GET', '/v1/telemetry/devices', doomed)).status).toBe(200);

    // Another tenant cannot revoke it, and cannot tell it exists.
    expect((await call(attestation.url, 'POST', `/v1/tokens/${created.body.id}/revoke`, tokens.globex)).status).toBe(404);
    expect((await call(attestation.url, 'POST', `/v1/tokens/${created.body.id}/revoke`, tokens.acmeReader)).status).toBe(403);
    for (const replica of replicas) expect((await call(replica.url, 'GET', '/v1/telemetry/devices', doomed)).status).toBe(200);

    const revoked = await call(attestation.url, 'POST', `/v1/tokens/${created.body.id}/revoke`, tokens.acme);
    expect(revoked).toEqual({ status: 200, body: { id: created.body.id, revoked: true } });
    expect((await call(attestation.url, 'GET', '/v1/devices', doomed)).status).toBe(401);
    for (const replica of replicas) {
      await waitFor(async () => (await call(replica.url, 'GET', '/v1/telemetry/devices', doomed)).status === 401, {
        timeoutMs: REVOCATION_DEADLINE_MS,
        describe: `revoked token refused by the replica at ${replica.url}`,
      });
    }
    // Idempotent, and listed as revoked.
    expect((await call(attestation.url, 'POST', `/v1/tokens/${created.body.id}/revoke`, tokens.acme)).status).toBe(200);
    const listed = (await call(attestation.url, 'GET', '/v1/tokens', tokens.acme)).body as Array<{ id: string; active: boolean }>;
    expect(listed.find((t) => t.id === created.body.id)).toMatchObject({ active: false, revokedAt: expect.any(String) });
  });

  it("keeps the tenant's last active Administrator token", async () => {
    const globexTokens = (await call(attestation.url, 'GET', '/v1/tokens', tokens.globex)).body as Array<{ id: string; role: string }>;
    const [onlyAdministrator] = globexTokens.filter((t) => t.role === 'Administrator');
    const refused = await call(attestation.url, 'POST', `/v1/tokens/${onlyAdministrator!.id}/revoke`, tokens.globex);
    expect(refused.status).toBe(409);
    expect((await call(attestation.url, 'GET', '/v1/tokens', tokens.globex)).status).toBe(200);
  });

  it('keeps one Administrator token when the last two are revoked at the same moment', async () => {
    for (let round = 0; round < 8; round++) {
      const tenant = `race-${round}`;
      const first = await call(attestation.url, 'POST', '/v1/tenants', operator, { id: tenant, name: tenant });
      const a = first.body.administratorToken as string;
      const second = await call(attestation.url, 'POST', '/v1/tokens', a, { role: 'Administrator' });
      const b = second.body.token as string;
      const listed = (await call(attestation.url, 'GET', '/v1/tokens', a)).body as Array<{ id: string }>;
      const aId = listed.find((t) => t.id !== second.body.id)!.id;
      // Each revokes the other at once.
      const answers = await Promise.all([
        call(attestation.url, 'POST', `/v1/tokens/${aId}/revoke`, b),
        call(attestation.url, 'POST', `/v1/tokens/${second.body.id as string}/revoke`, a),
      ]);
      expect(answers.map((r) => r.status).sort(), `round ${round}`).toEqual([200, 409]);
      const active = await queryDatabase<{ n: number }>(
        db.url,
        `SELECT count(*)::int AS n FROM attestation.api_tokens WHERE tenant_id = $1 AND role = 'Administrator' AND revoked_at IS NULL`,
        [tenant],
      );
      expect(active[0]!.n).toBe(1);
    }
  });

  it('refuses an expired token everywhere, and tells the guards when it expires', async () => {
    const created = await call(attestation.url, 'POST', '/v1/tokens', tokens.acme, { role: 'Reader', expiresInSeconds: 60 });
    const token = created.body.token as string;
    expect((await call(attestation.url, 'GET', '/v1/devices', token)).status).toBe(200);
    // A minute passes: the clock is the database's.
    await queryDatabase(db.url, `UPDATE attestation.api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, [
      created.body.id,
    ]);
    expect((await call(attestation.url, 'GET', '/v1/devices', token)).status).toBe(401);
    // The replicas never saw it: they ask, and hear it is not valid.
    for (const replica of replicas) expect((await call(replica.url, 'GET', '/v1/telemetry/devices', token)).status).toBe(401);
    const listed = (await call(attestation.url, 'GET', '/v1/tokens', tokens.acme)).body as Array<{ id: string; active: boolean }>;
    expect(listed.find((t) => t.id === created.body.id)).toMatchObject({ active: false, revokedAt: null });
  });

  it('refuses a lifetime that is not a whole number of seconds from a minute to five years', async () => {
    for (const expiresInSeconds of [0, 59, -1, 1.5, '3600', 10 * 365 * 24 * 3600]) {
      const answer = await call(attestation.url, 'POST', '/v1/tokens', tokens.acme, { role: 'Reader', expiresInSeconds });
      expect(answer.status, JSON.stringify(expiresInSeconds)).toBe(400);
    }
  });
});
