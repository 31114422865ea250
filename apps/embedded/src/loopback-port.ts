import { createServer } from 'node:net';

/**
 * `port`, or when it is 0 a port that was free on 127.0.0.1 a moment ago:
 * for a listener whose URL must be known before it starts (certificates
 * name their CRL under the API front's URL, and the front starts last).
 */
export function loopbackPortFor(port: number): Promise<number> {
  if (port !== 0) return Promise.resolve(port);
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const free = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(free));
    });
  });
}
