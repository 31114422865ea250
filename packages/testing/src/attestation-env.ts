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
  };
}
