import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '@rampart/testing';

const NATS_SERVER = existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';

/**
 * The machine's nats-server with JetStream on a free port and a store of its
 * own: an external NATS for one run, so its streams (TELEMETRY, FAILURES, …,
 * unprefixed as in production) meet no other test's.
 */
export class StandaloneNats {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly port: number,
  ) {}

  static async start(): Promise<StandaloneNats> {
    const dir = await mkdtemp(join(tmpdir(), 'rampart-nats-'));
    const port = await freePort();
    const monitor = await freePort();
    const child = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitor), '-js', '-sd', dir], {
      stdio: 'ignore',
    });
    await waitFor(
      async () =>
        fetch(`http://127.0.0.1:${monitor}/healthz?js-enabled-only=true`).then(
          (r) => r.ok,
          () => false,
        ),
      { timeoutMs: 15_000, describe: 'nats-server with JetStream' },
    );
    return new StandaloneNats(child, dir, port);
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
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
