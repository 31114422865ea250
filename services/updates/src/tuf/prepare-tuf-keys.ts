import type { Logger } from '@rampart/service-kit';
import type { KeyProvider, KeyVault } from '@rampart/trust';
import type { Transactions } from '../persistence/transactions.js';
import { resealLegacyTufKeys } from './legacy-tuf-keys.js';
import type { TufMetadataRepository } from './tuf-metadata.repository.js';

/**
 * The start-up use case for the tenants' TUF keys, run before anything signs:
 * with the software provider, keys sealed before the key provider are
 * re-sealed under their labels (`vault` is its key-encryption key); with any
 * provider, tenants whose keys another provider holds are named. Those keys
 * cannot sign here and are never replaced quietly: said once now, and by
 * name (SigningUnavailableError, in the log) on each use.
 */
export class PrepareTufKeys {
  constructor(
    private readonly provider: KeyProvider['kind'],
    private readonly vault: KeyVault | undefined,
    private readonly repository: TufMetadataRepository,
    private readonly transactions: Transactions,
    private readonly logger: Logger,
  ) {}

  async run(): Promise<void> {
    if (this.provider === 'software') {
      if (this.vault === undefined) throw new Error('the software key provider needs its key-encryption key to re-seal TUF keys');
      await resealLegacyTufKeys(this.repository, this.transactions, this.vault, this.logger);
    }
    const stranded = await this.repository.tenantsWithKeysElsewhere(this.provider);
    if (stranded.length > 0) {
      this.logger.error(
        { tenants: stranded.slice(0, 20), count: stranded.length, provider: this.provider },
        'TUF keys of these tenants are held by another key provider: their metadata cannot be signed (UNAVAILABLE)',
      );
    }
  }
}
