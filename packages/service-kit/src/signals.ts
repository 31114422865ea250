/** Closes the given services on SIGTERM/SIGINT, then exits. */
export function closeOnSignals(close: () => Promise<void>, onError: (error: unknown) => void): void {
  let signalled = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (signalled) {
      process.exit(130);
    }
    signalled = true;
    close().then(
      () => process.exit(signal === 'SIGINT' ? 130 : 0),
      (error: unknown) => {
        onError(error);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
}
