export interface MicroBatcherOptions {
  /** Most items one flush takes. */
  readonly maxBatch: number;
  /** Flushes allowed in flight at once; further items wait and form the next batch. */
  readonly concurrency: number;
}

interface Pending<I, O> {
  readonly item: I;
  readonly resolve: (value: O) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Turns many concurrent single-item calls into few batched ones: items
 * submitted while a flush is in flight gather and go together in the next.
 * Under light load a batch holds one item and adds only a turn of the event
 * loop; under heavy load the batch grows, so the per-item cost of a round
 * trip (a database statement, a commit) falls as the load rises — group
 * commit, as databases do it.
 *
 * `flush` answers the items in order, one result each; if it throws, every
 * item of that batch is rejected with the error.
 */
export class MicroBatcher<I, O> {
  private queue: Array<Pending<I, O>> = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly flush: (items: readonly I[]) => Promise<readonly O[]>,
    private readonly options: MicroBatcherOptions,
  ) {
    if (!(options.maxBatch >= 1 && options.concurrency >= 1)) throw new Error('MicroBatcher needs maxBatch >= 1 and concurrency >= 1');
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Items waiting for a flush (not counting those in flight). */
  get waiting(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.options.concurrency || this.queue.length === 0) return;
    this.scheduled = true;
    // One turn of the event loop lets the items of the same I/O burst join.
    setImmediate(() => {
      this.scheduled = false;
      this.next();
    });
  }

  private next(): void {
    while (this.inFlight < this.options.concurrency && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.options.maxBatch);
      this.inFlight++;
      void this.run(batch);
    }
  }

  private async run(batch: Array<Pending<I, O>>): Promise<void> {
    try {
      const results = await this.flush(batch.map((p) => p.item));
      if (results.length !== batch.length) throw new Error(`batch flush answered ${results.length} results for ${batch.length} items`);
      batch.forEach((p, i) => p.resolve(results[i] as O));
    } catch (error) {
      for (const p of batch) p.reject(error);
    } finally {
      this.inFlight--;
      this.schedule();
    }
  }
}
