import { KeyExistsError, type SealedKeyStore } from '@rampart/trust';
import type { DataSource } from 'typeorm';
import { afterCommit, ambientTransaction, executor } from '../persistence/transactions.js';

/** PostgreSQL's unique_violation. */
const UNIQUE_VIOLATION = '23505';

/**
 * The software key provider's store in this service's own schema:
 * `updates.sealed_keys`, one KeyVault-sealed key per label, never
 * overwritten. Unused with KEYS_PROVIDER=pkcs11 (the token holds the keys).
 * It joins the transaction it is called in (`ambientTransaction`): a key
 * made by a transaction that rolls back is not kept.
 */
export class SealedKeyTable implements SealedKeyStore {
  readonly description = 'table updates.sealed_keys';

  constructor(private readonly dataSource: DataSource) {}

  async load(label: string): Promise<Buffer | undefined> {
    const rows: Array<{ sealed: Buffer }> = await this.sql().query(`SELECT sealed FROM updates.sealed_keys WHERE label = $1`, [label]);
    return rows[0]?.sealed;
  }

  async save(label: string, sealed: Buffer): Promise<void> {
    try {
      await this.sql().query(`INSERT INTO updates.sealed_keys (label, sealed) VALUES ($1, $2)`, [label, sealed]);
    } catch (error) {
      const failure = error as { code?: string; driverError?: { code?: string } };
      if ((failure.driverError?.code ?? failure.code) === UNIQUE_VIOLATION) {
        throw new KeyExistsError(label, this.description);
      }
      throw error;
    }
  }

  /** After the caller's transaction commits (never if it rolls back), or at once outside one. */
  whenDurable(then: () => void): void {
    afterCommit(ambientTransaction(this.dataSource), then);
  }

  private sql() {
    return executor(this.dataSource, ambientTransaction(this.dataSource));
  }
}
