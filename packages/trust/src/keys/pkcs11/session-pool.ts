/**
 * A fixed set of logged-in sessions lent out one operation at a time: a
 * PKCS#11 session runs one operation at a time (C_SignInit … C_Sign), so
 * concurrent signatures each need their own. Closing the pool rejects the
 * waiters; `drained` resolves once every lent session is back, so the module
 * is never finalised under a call still running in the thread pool.
 */
export class SessionPool<S> {
  readonly #idle: S[];
  readonly #waiters: { resolve: (session: S) => void; reject: (error: Error) => void }[] = [];
  #lent = 0;
  #closedWith: Error | undefined;
  #onDrained: (() => void) | undefined;

  constructor(sessions: readonly S[]) {
    this.#idle = [...sessions];
  }

  async use<T>(operation: (session: S) => Promise<T>): Promise<T> {
    const session = await this.acquire();
    try {
      return await operation(session);
    } finally {
      this.release(session);
    }
  }

  /** Stops lending: waiting and later callers get `error`. */
  close(error: Error): void {
    this.#closedWith ??= error;
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }

  get closed(): boolean {
    return this.#closedWith !== undefined;
  }

  drained(): Promise<void> {
    if (this.#lent === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#onDrained = resolve));
  }

  private acquire(): Promise<S> {
    if (this.#closedWith !== undefined) return Promise.reject(this.#closedWith);
    const session = this.#idle.pop();
    if (session !== undefined) {
      this.#lent++;
      return Promise.resolve(session);
    }
    return new Promise((resolve, reject) =>
      this.#waiters.push({
        resolve: (s) => {
          this.#lent++;
          resolve(s);
        },
        reject,
      }),
    );
  }

  private release(session: S): void {
    this.#lent--;
    const waiter = this.#closedWith === undefined ? this.#waiters.shift() : undefined;
    if (waiter !== undefined) return waiter.resolve(session);
    this.#idle.push(session);
    if (this.#lent === 0 && this.#onDrained !== undefined) {
      this.#onDrained();
      this.#onDrained = undefined;
    }
  }
}
