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
    return this.dataSource.transaction((manager) => work(manager as unknown as Tx));
  }
}

/** Where a repository sends SQL: the caller's transaction, or (none given) the pool. For repositories only. */
export function executor(dataSource: DataSource, tx: Tx | undefined): Pick<EntityManager, 'query'> {
  return tx === undefined ? dataSource : (tx as unknown as EntityManager);
}
