import { randomInt } from 'node:crypto';
import { createServer } from 'node:net';

/**
 * Test ports come from below the kernel's ephemeral range (Linux: 32768–60999), one slice per vitest worker, handed out
 * in turn. The kernel's own pick (listen on port 0, close, reuse) raced once the integration files ran on two workers:
 * the port a test was given could be taken, before its listener started, by the other worker's pick or by any outgoing
 * connection's local port (EADDRINUSE). Here no outgoing connection uses these ports, the workers never share one, and
 * within a worker a port comes round again only after the whole slice.
 */
const RANGE_START = 20_000;
const SLICE_SIZE = 1_500;
const SLICES = 8;

const worker = Math.max(0, Number(process.env.VITEST_POOL_ID ?? '1') - 1) % SLICES;
const sliceStart = RANGE_START + worker * SLICE_SIZE;
// A random start, so that files run one after another in fresh workers do not all begin with the same port.
let turn = randomInt(SLICE_SIZE);

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A TCP port free on 127.0.0.1 now, that no other test worker and no outgoing connection will be given. */
export async function freePort(): Promise<number> {
  for (let tried = 0; tried < SLICE_SIZE; tried += 1) {
    const port = sliceStart + (turn % SLICE_SIZE);
    turn += 1;
    // Something outside the tests may hold it (a broker, a container on the host's network): skip it.
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port in ${sliceStart}-${sliceStart + SLICE_SIZE - 1} on 127.0.0.1`);
}
