import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { TestPki } from './pki.js';

/**
 * The environment of an attestation service for a test: its database, the
 * test NATS under a prefix, a throwaway PKI, a fresh key-encryption key
 * unless one is given (replicas of one installation share it).
 */
export function attestationTestEnv(options: {
  readonly databaseUrl: string;
  readonly natsUrl: string;
  readonly prefix: string;
  readonly pki: TestPki;
  readonly operatorToken: string;
  readonly keyEncryptionKey?: string;
}): Record<string, string> {
  return {
    DATABASE_URL: options.databaseUrl,
    NATS_URL: options.natsUrl,
    BUS_PREFIX: options.prefix,
    HTTP_PORT: '0',
    PLATFORM_CA_CERT_FILE: options.pki.files.platformCa,
    PLATFORM_CA_KEY_FILE: join(options.pki.dir, 'platform-ca.key'),
    MANUFACTURER_CA_FILE: options.pki.files.manufacturerCa,
    CA_KEY_ENCRYPTION_KEY: options.keyEncryptionKey ?? randomBytes(32).toString('base64'),
    PLATFORM_ADMIN_TOKEN: options.operatorToken,
    // Named in issued certificates as their CRL distribution point; tests fetch CRLs from the running service's own URL.
    PUBLIC_BASE_URL: 'http://attestation.test',
  };
}

/**
 * Tenants `acme` and `globex` made through a running attestation service,
 * with each one's Administrator token and a Reader token of acme
 * (`acmeReader`): the cast of every tenant-isolation and role test.
 */
export async function createTestTenants(
  attestationUrl: string,
  operatorToken: string,
): Promise<Readonly<Record<'acme' | 'globex' | 'acmeReader', string>>> {
  const post = async (path: string, token: string, body: unknown): Promise<Record<string, string>> => {
    const response = await fetch(`${attestationUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (response.status !== 201) throw new Error(`POST ${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as Record<string, string>;
  };
  const acme = (await post('/v1/tenants', operatorToken, { id: 'acme', name: 'acme' }))['administratorToken']!;
  const globex = (await post('/v1/tenants', operatorToken, { id: 'globex', name: 'globex' }))['administratorToken']!;
  const acmeReader = (await post('/v1/tokens', acme, { role: 'Reader' }))['token']!;
  return { acme, globex, acmeReader };
}
