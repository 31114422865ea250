import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, portSlice } from './ports.js';

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

describe(freePort.name, () => {
  it('hands out distinct ports below the ephemeral range, each one listenable', async () => {
    const ports: number[] = [];
    for (let i = 0; i < 50; i += 1) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
    expect(Math.min(...ports)).toBeGreaterThanOrEqual(20_000);
    expect(Math.max(...ports)).toBeLessThan(32_768);
    const server = await listen(ports[0]!);
    server.close();
  });

  it('skips a port something else holds', async () => {
    const first = await freePort();
    // The next in turn, unless the slice wraps there (then the test holds a port it will not be offered anyway).
    const held = await listen(first + 1).catch(() => undefined);
    try {
      const next = await freePort();
      expect(next).not.toBe(first);
      if (held !== undefined) expect(next).not.toBe(first + 1);
      (await listen(next)).close();
    } finally {
      held?.close();
    }
  });
});

describe(portSlice.name, () => {
  it('gives every worker up to the slice count its own slice, disjoint from the others and below the ephemeral range', () => {
    for (const slices of [8, 9, 16, 32]) {
      const all = Array.from({ length: slices }, (_, i) => portSlice(i + 1, slices));
      for (const [i, slice] of all.entries()) {
        expect(slice.start).toBeGreaterThanOrEqual(20_000);
        expect(slice.start + slice.size).toBeLessThanOrEqual(32_768);
        if (i > 0) expect(slice.start).toBeGreaterThanOrEqual(all[i - 1]!.start + all[i - 1]!.size);
      }
    }
  });

  it("refuses a worker beyond the slice count rather than sharing another worker's ports", () => {
    expect(() => portSlice(9, 8)).toThrow(/VITEST_POOL_ID 9 is outside 1-8/);
    expect(() => portSlice(0, 8)).toThrow(/outside/);
    expect(() => portSlice(1, 100)).toThrow(/fewer than 200 ports/);
  });
});
