import { keyLabel, type KeyVault } from '@rampart/trust';
import type { Logger } from '@rampart/service-kit';
import type { Transactions } from '../persistence/transactions.js';
import type { TufMetadataRepository } from './tuf-metadata.repository.js';

/**
 * Brings TUF keys sealed before the key provider (associated data
 * `<tenant>/<role>`, in `signing_keys`) under it: each is opened with the
 * key-encryption key and sealed again under its provider label in
 * `sealed_keys`, so the software provider signs with the very keys existing
 * roots list and devices keep verifying. Runs at start-up with
 * KEYS_PROVIDER=software; idempotent, and safe with replicas racing.
 */
export async function resealLegacyTufKeys(
  repository: TufMetadataRepository,
  transactions: Transactions,
  vault: KeyVault,
  logger: Logger,
): Promise<number> {
  let resealed = 0;
  for (const key of await repository.legacyKeys()) {
    const tenant = { tenant: key.tenantId };
    // Online roles have one key each; root keys (several, rotated) are told apart by their key id.
    const label = key.role === 'root' ? keyLabel(tenant, `tuf-root-${key.keyId.slice(0, 16)}`) : keyLabel(tenant, `tuf-${key.role}`);
    const pem = vault.open(key.sealed, `${key.tenantId}/${key.role}`);
    if (await transactions.run((tx) => repository.adoptLegacyKey(key.keyId, label, vault.seal(pem, label), tx))) resealed++;
  }
  if (resealed > 0) logger.info({ keys: resealed }, 'TUF keys sealed before the key provider re-sealed under their labels');
  return resealed;
}
