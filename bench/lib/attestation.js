import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { demoKnownGood } from '@rampart/emulator';
import { startNode } from './processes.js';
import { REPO_ROOT } from './report.js';

/**
 * The attestation service as its own process for a benchmark, with a
 * tenant created and the demo images registered as known-good. Resolves
 * with the process, the tenant's Administrator token, and a REST helper.
 * `platformCa` replaces the two-tier development CA (the root's key file in
 * `pkiDir`) with other settings: the three-tier ones with the keys in a token.
 * @param {{ dbUrl: string, natsUrl: string, prefix: string, pkiDir: string, tenantId: string, env?: Record<string, string>, platformCa?: Record<string, string> }} options
 */
export async function startBenchAttestation(options) {
  const operator = randomBytes(24).toString('hex');
  const process = await startNode(
    join(REPO_ROOT, 'services/attestation/dist/main.js'),
    {
      DATABASE_URL: options.dbUrl,
      NATS_URL: options.natsUrl,
      BUS_PREFIX: options.prefix,
      HTTP_PORT: '0',
      ...(options.platformCa ?? {
        PLATFORM_CA_CERT_FILE: join(options.pkiDir, 'platform-ca.crt'),
        PLATFORM_CA_KEY_FILE: join(options.pkiDir, 'platform-ca.key'),
      }),
      MANUFACTURER_CA_FILE: join(options.pkiDir, 'manufacturer-ca.crt'),
      CA_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      PLATFORM_ADMIN_TOKEN: operator,
      PUBLIC_BASE_URL: 'http://127.0.0.1',
      // The per-device limits left on but above a benchmark's load (it attests each device again and again).
      ATTEST_DEVICE_RATE_PER_MIN: '100000000',
      ATTEST_DEVICE_BURST: '1000000',
      ...(options.env ?? {}),
    },
    (l) => l.msg === 'attestation listening',
  );
  const api = process.line.url;
  const call = async (method, path, token, body) => {
    const r = await fetch(`${api}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status}`);
    return r.status === 204 ? undefined : r.json();
  };
  const { administratorToken } = await call('POST', '/v1/tenants', operator, { id: options.tenantId, name: options.tenantId });
  for (const image of demoKnownGood())
    await call('PUT', '/v1/measurements', operator, { stage: image.stage, sha256: image.sha256, status: 'released' });
  return { process, api, token: administratorToken, call };
}
