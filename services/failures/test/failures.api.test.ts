import { randomBytes, randomUUID } from 'node:crypto';
import { Subject, type ReceivedFailureReport, type ReceivedHeartbeat } from '@rampart/contracts';
import { loadAttestationConfig, startAttestation, type RunningAttestation } from '@rampart/attestation';
import { NatsBus, createLogger, encodeJson } from '@rampart/service-kit';
import {
  TEST_NATS_URL,
  attestationTestEnv,
  createTestTenants,
  createTestDatabase,
  createTestPki,
  removeBusPrefix,
  uniqueBusPrefix,
  waitFor,
  type TestDatabase,
  type TestPki,
} from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failuresTestConfig } from './failures-environment.js';
import { startFailures, type RunningFailures } from '../src/start-failures.js';

const device = (n: number) => n.toString(16).padStart(64, '0');

/** The REST API: tokens checked with the attestation service, every answer scoped to the token's tenant. */
describe('failures REST API', () => {
  let db: TestDatabase;
  let pki: TestPki;
  let attestation: RunningAttestation;
  let failures: RunningFailures;
  let bus: NatsBus;
  const prefix = uniqueBusPrefix('failapi');
  const operator = randomBytes(24).toString('hex');
  const tokens: Record<string, string> = {};

  async function call(token: string | undefined, path: string): Promise<{ status: number; body: any; text: string }> {
    const response = await fetch(`${failures.url}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.status, body, text };
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    pki = await createTestPki();
    attestation = await startAttestation(
      loadAttestationConfig(attestationTestEnv({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, pki, operatorToken: operator })),
      createLogger('attestation', 'silent'),
    );
    failures = await startFailures(failuresTestConfig(db.url, prefix), createLogger('failures', 'silent'));
    bus = await NatsBus.connect({ url: TEST_NATS_URL, prefix, name: 'failures-api-test', onError: () => undefined });
    Object.assign(tokens, await createTestTenants(attestation.url, operator));
    const publish = async (deviceId: string, tenantId: string, seq: number, version: string) => {
      const message: ReceivedFailureReport = {
        deviceId,
        tenantId,
        receivedAt: Date.now(),
        report: {
          seq,
          at: Date.now() - seq,
          kind: 'app-crash',
          component: 'app:sensor',
          version,
          exitCode: 1,
          signal: null,
          message: 'TypeError: "quoted", with a comma',
          frames: [{ function: 'tick', file: `app:sensor@${version}`, line: 1, column: 1 }],
        },
      };
      await bus.publishDurable(Subject.failuresReportReceived, encodeJson({ reports: [message] }), { msgId: randomUUID() });
    };
    for (let seq = 1; seq <= 25; seq++) await publish(device(seq % 5), 'acme', seq, '1.1.0');
    for (let seq = 1; seq <= 7; seq++) await publish(device(100 + seq), 'globex', seq, '2.0.0');
    await waitFor(async () => (await failures.repository.totals()).reports === 32, { describe: '32 reports stored' });
    // An hour of uptime from each of acme's five devices and from two of globex's.
    const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000;
    const heartbeats: ReceivedHeartbeat[] = [0, 1, 2, 3, 4, 101, 102].map((n) => ({
      deviceId: device(n),
      tenantId: n < 100 ? 'acme' : 'globex',
      receivedAt: Date.now(),
      heartbeat: { seq: 1, from: hour, to: hour + 3_600_000, running: [{ component: 'app:sensor', version: n < 100 ? '1.1.0' : '2.0.0' }] },
    }));
    await bus.publishDurable(Subject.failuresHeartbeatReceived, encodeJson({ heartbeats }), { msgId: randomUUID() });
    await waitFor(() => failures.heartbeats.counters.stored === 7, { describe: '7 heartbeats stored' });
  });

  afterAll(async () => {
    await failures?.close();
    await attestation?.close();
    await bus?.drain();
    await removeBusPrefix(prefix);
    await db?.drop();
    await pki?.remove();
  });

  it('refuses a missing or unknown token', async () => {
    expect((await call(undefined, '/v1/failure-buckets')).status).toBe(401);
    expect((await call('x'.repeat(40), '/v1/failure-buckets')).status).toBe(401);
    expect((await call(operator, '/v1/failure-buckets')).status).toBe(401); // the operator is not a tenant
  });

  it('refuses upper-case paths without a token too (Express matches routes case-insensitively)', async () => {
    for (const path of ['/V1/failure-buckets', '/V1/error-reports', '/V1/error-reports/export', '/V1/stability?component=os']) {
      const answer = await call(undefined, path);
      expect(answer.status, path).toBe(401);
      expect(answer.text, path).not.toMatch(/^\[/);
    }
  });

  it('takes the Bearer scheme in any case (RFC 7235 §2.1)', async () => {
    const response = await fetch(`${failures.url}/v1/failure-buckets`, { headers: { authorization: `bearer ${tokens['acme']}` } });
    expect(response.status).toBe(200);
  });

  it("shows each tenant its own buckets and reports, and another tenant's as not found", async () => {
    const acme = await call(tokens['acmeReader'], '/v1/failure-buckets');
    expect(acme.status).toBe(200);
    expect(acme.body).toEqual([expect.objectContaining({ version: '1.1.0', reports: 25, devices: 5 })]);
    const globex = await call(tokens['globex'], '/v1/failure-buckets');
    expect(globex.body).toEqual([expect.objectContaining({ version: '2.0.0', reports: 7, devices: 7 })]);
    const theirs = globex.body[0].signature as string;
    expect((await call(tokens['acme'], `/v1/failure-buckets/${theirs}`)).status).toBe(404);
    const own = await call(tokens['globex'], `/v1/failure-buckets/${theirs}`);
    expect(own.body.latest).toHaveLength(7);
    const reports = await call(tokens['acme'], `/v1/error-reports?deviceId=${device(101)}`);
    expect(reports.body.rows).toEqual([]);
  });

  it('gives each tenant crash-free figures of its own devices only, and refuses a bad query', async () => {
    const acme = await call(tokens['acmeReader'], '/v1/stability?component=app:sensor');
    expect(acme.status).toBe(200);
    expect(acme.body.cohorts).toEqual([
      expect.objectContaining({ version: '1.1.0', devices: 5, crashFreeDevices: 0, operatingHours: 5, crashes: 25 }),
    ]);
    const globex = await call(tokens['globex'], '/v1/stability?component=app:sensor&version=2.0.0,1.1.0');
    expect(globex.body.cohorts).toEqual([expect.objectContaining({ version: '2.0.0', devices: 7, operatingHours: 2, crashes: 7 })]);
    expect((await call(tokens['acme'], '/v1/stability?component=app:sensor&version=2.0.0')).body.cohorts).toEqual([]);
    expect((await call(tokens['acme'], '/v1/stability')).status).toBe(400);
    expect((await call(tokens['acme'], '/v1/stability?component=os&from=yesterday')).status).toBe(400);
    expect((await call(undefined, '/v1/stability?component=os')).status).toBe(401);
  });

  it('pages through every report with a cursor, and refuses a forged cursor', async () => {
    const seen = new Set<string>();
    let after: string | null = null;
    do {
      const page: { status: number; body: { rows: Array<{ reportKey: string }>; next: string | null } } = await call(
        tokens['acme'],
        `/v1/error-reports?limit=4${after === null ? '' : `&after=${after}`}`,
      );
      expect(page.status).toBe(200);
      for (const row of page.body.rows) seen.add(row.reportKey);
      after = page.body.next;
    } while (after !== null);
    expect(seen.size).toBe(25);
    expect((await call(tokens['acme'], '/v1/error-reports?after=bm90LWEtY3Vyc29y')).status).toBe(400);
    expect((await call(tokens['acme'], '/v1/error-reports?limit=0')).status).toBe(400);
  });

  it('exports every matching report as CSV or JSON, without a cap, quoting what needs quoting', async () => {
    const csv = await call(tokens['acme'], '/v1/error-reports/export?format=csv&version=1.1.0');
    const lines = csv.text.trim().split('\n');
    expect(lines[0]).toBe('occurredAt,deviceId,kind,component,version,exitCode,signal,message,bucket,frames');
    expect(lines).toHaveLength(26);
    expect(lines[1]).toContain('"TypeError: ""quoted"", with a comma"');
    const json = await call(tokens['globex'], '/v1/error-reports/export?format=json');
    expect(json.body).toHaveLength(7);
  });

  it('refuses a query PostgreSQL cannot run with a 400 before the export writes a byte, never a 200 cut short', async () => {
    for (const query of ['from=-271821-04-20T00:00:00Z', 'to=%2B275760-09-13T00:00:00Z', 'version=1.1.0%00', 'from=99999999999999999']) {
      const answer = await call(tokens['acme'], `/v1/error-reports/export?format=csv&${query}`);
      expect(answer.status, query).toBe(400);
      expect(answer.body, query).toMatchObject({ code: 'BAD_REQUEST' });
    }
  });

  it('answers 503 when a view names a cohort and the updates service, which owns cohorts, does not answer', async () => {
    // No updates service runs in this test: the cohort cannot be resolved, and the view must not fall back to the whole fleet.
    for (const path of [
      `/v1/failure-buckets?deviceGroup=${randomUUID()}`,
      `/v1/stability?component=os&deployment=${randomUUID()}&wave=0`,
    ]) {
      const answer = await call(tokens['acme'], path);
      expect(answer.status, path).toBe(503);
      expect(answer.body, path).toMatchObject({
        code: 'UNAVAILABLE',
        message: expect.stringContaining('the updates service did not answer'),
      });
    }
  });

  it('takes numbers written in decimal only, and a cursor whose date or key the database could not hold as forged', async () => {
    for (const limit of ['0x10', '', '1e1', ' 5']) {
      expect((await call(tokens['acme'], `/v1/error-reports?limit=${encodeURIComponent(limit)}`)).status, limit).toBe(400);
    }
    const forged = (at: string, key: string) => Buffer.from(JSON.stringify([at, key])).toString('base64url');
    expect((await call(tokens['acme'], `/v1/error-reports?after=${forged('-271821-04-20T00:00:00.000Z', 'k')}`)).status).toBe(400);
    expect((await call(tokens['acme'], `/v1/error-reports?after=${forged('2026-01-01T00:00:00.000Z', 'k\u0000')}`)).status).toBe(400);
  });
});
