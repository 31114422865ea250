/**
 * Polls `check` until it returns a value other than undefined/false, or
 * fails after `timeoutMs` with the last observed state. Tests wait on
 * conditions, never on fixed sleeps.
 */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  {
    timeoutMs = 10_000,
    intervalMs = 25,
    describe = 'condition',
  }: {
    timeoutMs?: number;
    intervalMs?: number;
    /** What is awaited; a function is asked at the timeout, so the message can carry the last state seen. */
    describe?: string | (() => string | Promise<string>);
  } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const what = typeof describe === 'string' ? describe : await describe();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
