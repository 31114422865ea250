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

  /** Runs `work` in one transaction: committed when it resolves, rolled back when it rejects; then its `afterCommit` hooks. */
  async run<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const committed: Array<() => void> = [];
    const result = await this.dataSource.transaction((manager) => {
      const tx = manager as unknown as Tx;
      pendingCommit.set(tx, committed);
      return ambient.run({ dataSource: this.dataSource, tx }, () => work(tx));
    });
    for (const then of committed) then();
    return result;
  }
}

/** What each open transaction runs once it has committed. */
const pendingCommit = new WeakMap<Tx, Array<() => void>>();

/**
 * Runs `then` once `tx` has committed, never if it rolls back; at once with no
 * transaction. For what a process keeps in memory about rows it wrote or read
 * in the transaction (a cache, a check passed): kept before the commit, it
 * would outlive a rollback and stand for rows that never existed.
 */
export function afterCommit(tx: Tx | undefined, then: () => void): void {
  if (tx === undefined) {
    then();
    return;
  }
  const hooks = pendingCommit.get(tx);
  if (hooks === undefined) throw new Error('afterCommit: not a transaction begun by Transactions.run');
  hooks.push(then);
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
