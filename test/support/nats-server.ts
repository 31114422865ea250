import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '@rampart/testing';

const NATS_SERVER = existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';

/**
 * One JetStream nats-server of the test's own, on free ports with a fresh
 * store, so a test that hands NATS to containers shares nothing with other
 * people's runs on the machine's NATS.
 */
export class NatsServer {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly clientPort: number,
  ) {}

  static async start(): Promise<NatsServer> {
    const dir = await mkdtemp(join(tmpdir(), 'rampart-nats-'));
    const [client, monitor] = [await freePort(), await freePort()];
    const child = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(client), '-m', String(monitor), '-js', '-sd', dir], {
      stdio: 'ignore',
    });
    const server = new NatsServer(child, dir, client);
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}`);
        const response = await fetch(`http://127.0.0.1:${monitor}/healthz?js-enabled-only=true`);
        return response.status === 200;
      },
      { timeoutMs: 15_000, intervalMs: 100, describe: 'nats-server with JetStream' },
    );
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.clientPort}`;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}
