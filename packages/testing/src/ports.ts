import { randomInt } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { createServer } from 'node:net';

/**
 * Test ports come from below the kernel's ephemeral range (Linux: 32768–60999), one slice per vitest worker, handed out
 * in turn. The kernel's own pick (listen on port 0, close, reuse) raced once the integration files ran on two workers:
 * the port a test was given could be taken, before its listener started, by the other worker's pick or by any outgoing
 * connection's local port (EADDRINUSE). Here no outgoing connection uses these ports, the workers never share one, and
 * within a worker a port comes round again only after the whole slice.
 */
const RANGE_START = 20_000;
/** The first port of the kernel's ephemeral range (Linux default). */
const RANGE_END = 32_768;
/** A slice smaller than this would wrap round to ports a test may still hold. */
const MIN_SLICE_SIZE = 200;

/**
 * Worker `poolId`'s slice (VITEST_POOL_ID runs 1…maxWorkers) when the range is split into `slices`: disjoint for every
 * pool id up to `slices`; a pool id beyond it, or slices too small to use, is an error — never a silent overlap.
 */
export function portSlice(poolId: number, slices: number): { start: number; size: number } {
  const size = Math.floor((RANGE_END - RANGE_START) / slices);
  if (size < MIN_SLICE_SIZE)
    throw new Error(`${slices} test workers leave fewer than ${MIN_SLICE_SIZE} ports each in ${RANGE_START}-${RANGE_END - 1}`);
  if (!Number.isInteger(poolId) || poolId < 1 || poolId > slices) {
    throw new Error(`VITEST_POOL_ID ${poolId} is outside 1-${slices}: its test ports would collide with another worker's`);
  }
  return { start: RANGE_START + (poolId - 1) * size, size };
}

// Vitest runs at most availableParallelism() workers unless told otherwise (its default is one fewer): one slice each.
const { start: sliceStart, size: SLICE_SIZE } = portSlice(Number(process.env.VITEST_POOL_ID ?? '1'), Math.max(8, availableParallelism()));
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
