import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from '@rampart/testing';

/** The machine's nats-server (Debian's package installs it in /usr/sbin). */
export const NATS_SERVER = existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';

interface Node {
  readonly name: string;
  readonly clientPort: number;
  readonly monitorPort: number;
  child: ChildProcess;
}

/**
 * A NATS cluster with JetStream made of the machine's own nats-server
 * binary on free ports, each node with its own store: what a 3-node
 * StatefulSet is in the chart. `kill(i)` is a node lost without warning.
 */
export class NatsCluster {
  private constructor(
    private readonly nodes: Node[],
    private readonly dir: string,
  ) {}

  static async start(size = 3): Promise<NatsCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'rampart-nats-cluster-'));
    const ports = await Promise.all(
      Array.from({ length: size }, async () => ({ client: await freePort(), cluster: await freePort(), monitor: await freePort() })),
    );
    const routes = ports.map((p) => `nats://127.0.0.1:${p.cluster}`).join(',');
    const nodes = ports.map((p, i): Node => {
      const name = `node-${i}`;
      const child = spawn(
        NATS_SERVER,
        [
          '-a',
          '127.0.0.1',
          '-p',
          String(p.client),
          '-m',
          String(p.monitor),
          '-js',
          '-sd',
          join(dir, name),
          '--server_name',
          name,
          '--cluster_name',
          'rampart-test',
          '--cluster',
          `nats://127.0.0.1:${p.cluster}`,
          '--routes',
          routes,
        ],
        { stdio: 'ignore' },
      );
      return { name, clientPort: p.client, monitorPort: p.monitor, child };
    });
    const cluster = new NatsCluster(nodes, dir);
    await waitFor(() => cluster.ready(), { timeoutMs: 30_000, intervalMs: 250, describe: 'a JetStream meta leader in the NATS cluster' });
    return cluster;
  }

  /** Seed URLs of every node, comma-separated (NATS_URL). */
  get url(): string {
    return this.nodes.map((n) => `nats://127.0.0.1:${n.clientPort}`).join(',');
  }

  /** Every live node runs JetStream and they agree on a meta leader. */
  private async ready(): Promise<boolean> {
    for (const node of this.nodes) {
      if (node.child.exitCode !== null || node.child.signalCode !== null) continue;
      try {
        const jsz = (await (await fetch(`http://127.0.0.1:${node.monitorPort}/jsz`)).json()) as { meta_cluster?: { leader?: string } };
        if (jsz.meta_cluster?.leader === undefined || jsz.meta_cluster.leader === '') return false;
      } catch {
        return false;
      }
    }
    return true;
  }

  /** Every stream the cluster holds, with how many copies of it are kept (from a live node's monitoring). */
  async streams(): Promise<Array<{ name: string; replicas: number }>> {
    const node = this.nodes.find((n) => n.child.exitCode === null && n.child.signalCode === null)!;
    const jsz = (await (await fetch(`http://127.0.0.1:${node.monitorPort}/jsz?accounts=true&streams=true&config=true`)).json()) as {
      account_details?: Array<{ stream_detail?: Array<{ name: string; config?: { num_replicas?: number } }> }>;
    };
    return (jsz.account_details ?? []).flatMap((a) =>
      (a.stream_detail ?? []).map((d) => ({ name: d.name, replicas: d.config?.num_replicas ?? 1 })),
    );
  }

  /** SIGKILL one node, as a crashed pod. */
  async kill(index: number): Promise<void> {
    const child = this.nodes[index]!.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    for (let i = 0; i < this.nodes.length; i++) await this.kill(i);
    await rm(this.dir, { recursive: true, force: true });
  }
}
