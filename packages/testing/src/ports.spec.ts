import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from './ports.js';

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
