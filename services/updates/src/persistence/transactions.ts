import { AsyncLocalStorage } from 'node:async_hooks';
import type { DataSource, EntityManager } from 'typeorm';

declare const OPEN_TRANSACTION: unique symbol;

/**
 * An open transaction, opaque to everything but the repositories: services
 * pass it along and never query through it, so no ORM type reaches their
 * signatures. A repository method that takes a `Tx` runs in that
 * transaction; one that takes none runs on its own.
 */
export interface Tx {
  readonly [OPEN_TRANSACTION]: true;
}

/**
 * The one place transactions begin (a unit of work). A transaction spans
 * repositories: each repository method called with the same `Tx` joins it,
 * whichever repository that is.
 */
export class Transactions {
  constructor(private readonly dataSource: DataSource) {}

  /** Runs `work` in one transaction: committed when it resolves, rolled back when it rejects. */
  run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.dataSource.transaction((manager) => {
      const tx = manager as unknown as Tx;
      return ambient.run({ dataSource: this.dataSource, tx }, () => work(tx));
    });
  }
}

/** The transaction the code running now is inside of, and the pool it belongs to. */
const ambient = new AsyncLocalStorage<{ readonly dataSource: DataSource; readonly tx: Tx }>();

/**
 * The transaction the caller runs in, on `dataSource`, if any: for a store
 * behind an interface that cannot be handed a `Tx` (the key provider's
 * sealed keys). Joining it matters twice: a key made in a transaction that
 * rolls back is gone with it, and a second connection is never wanted while
 * the transaction holds one (the embedded PGlite has only one; a pool of n
 * would deadlock under n such transactions). Another pool's transaction (a
 * service sharing the process) is not joined.
 */
export function ambientTransaction(dataSource: DataSource): Tx | undefined {
  const current = ambient.getStore();
  return current?.dataSource === dataSource ? current.tx : undefined;
}

/** Where a repository sends SQL: the caller's transaction, or (none given) the pool. For repositories only. */
export function executor(dataSource: DataSource, tx: Tx | undefined): Pick<EntityManager, 'query'> {
  return tx === undefined ? dataSource : (tx as unknown as EntityManager);
}
