import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { demoKnownGood } from '@rampart/emulator';
import type { ApiClient } from '@rampart/api-client';

export const DEMO_TENANT = 'demo';

/**
 * What a platform operator does before the emulated fleet can attest: the
 * demo firmware's images are released as known-good (a fresh install's list
 * is empty, so every attestation would be refused MEASUREMENT_UNKNOWN).
 * Registering a measurement again is harmless.
 */
export async function releaseDemoMeasurements(client: ApiClient, operatorToken: string): Promise<void> {
  for (const image of demoKnownGood()) {
    await client.expect(
      'PUT',
      '/v1/measurements',
      operatorToken,
      { stage: image.stage, sha256: image.sha256, status: 'released', imageVersion: image.imageVersion },
      [204],
    );
  }
}

/**
 * Creates the demo tenant once and keeps its Administrator token in
 * `secretsDir`; later starts reuse it. A tenant's tokens are only ever shown
 * to whoever created it, so a tenant that exists without its token here
 * cannot be used, and the error says what to do.
 */
export async function ensureDemoTenant(
  client: ApiClient,
  operatorToken: string,
  secretsDir: string,
  tenantId = DEMO_TENANT,
  whenTokenLost = 'remove the data folder to start afresh',
): Promise<{ id: string; adminToken: string }> {
  const path = join(secretsDir, `tenant-${tenantId}.token`);
  try {
    return { id: tenantId, adminToken: (await readFile(path, 'utf8')).trim() };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const result = await client.call('POST', '/v1/tenants', operatorToken, { id: tenantId, name: 'Demo' });
  if (result.status === 409) throw new Error(`the ${tenantId} tenant exists but its token is not in ${path}; ${whenTokenLost}`);
  if (result.status !== 201) throw new Error(`creating the ${tenantId} tenant failed: ${result.status} ${JSON.stringify(result.body)}`);
  const adminToken = (result.body as { administratorToken: string }).administratorToken;
  await writeFile(path, `${adminToken}\n`, { mode: 0o600 });
  return { id: tenantId, adminToken };
}
