// gateway-throughput: delivered messages/s at QoS 0 and QoS 1 through the
// Rampart gateway (TLS off via its loopback development listener; ACL,
// payload validation, rate limiter and JetStream bridge on) against bare
// Aedes and Mosquitto, with the same load script in the same run.
// "Delivered" is what reaches the sink: a subscriber for Aedes and
// Mosquitto, the JetStream telemetry stream for the gateway (devices may
// not subscribe to each other's telemetry): readings whose stream batch was
// acknowledged, as the gateway counts them. BENCH_GATEWAY_ENV (JSON) overrides
// gateway settings for experiments.
import { randomBytes } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { countingSubscriber, publishLoad } from './lib/load.js';
import { startBenchGateway } from './lib/gateway.js';
import { startNode } from './lib/processes.js';
import { REPO_ROOT, writeReport } from './lib/report.js';

const NATS_URL = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const MOSQUITTO = { host: '127.0.0.1', port: Number(process.env.MOSQUITTO_PORT ?? 1883) };
const CLIENTS = 10;
const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 8_000);
const WINDOW = { 0: 200, 1: 50 };

const deviceIds = () => Array.from({ length: CLIENTS }, () => randomBytes(32).toString('hex'));

function reachable({ host, port }) {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

async function throughSubscriber(endpoint, qos) {
  const sink = await countingSubscriber({ ...endpoint, filter: 'devices/+/telemetry', qos });
  const load = await publishLoad({ ...endpoint, clientIds: deviceIds(), qos, window: WINDOW[qos], durationMs: DURATION_MS });
  // Let in-flight deliveries land before counting.
  let last = -1;
  while (sink.count() !== last) {
    last = sink.count();
    await new Promise((r) => setTimeout(r, 300));
  }
  await sink.close();
  return { delivered: sink.count(), perSecond: Math.round(sink.count() / (DURATION_MS / 1000)), ...load };
}

async function bareAedes(qos) {
  const broker = await startNode(join(REPO_ROOT, 'bench/lib/bare-aedes.js'), {}, (l) => l.msg === 'bare aedes listening');
  try {
    return await throughSubscriber({ host: '127.0.0.1', port: Number(broker.line.port) }, qos);
  } finally {
    await broker.stop();
  }
}

async function gateway(qos) {
  const prefix = `bench${randomBytes(4).toString('hex')}`;
  const pki = join(REPO_ROOT, '.rampart', 'pki');
  const { loadOrCreateDevelopmentPki } = await import('@rampart/trust');
  await loadOrCreateDevelopmentPki(pki);
  const gw = await startBenchGateway({
    natsUrl: NATS_URL,
    prefix,
    pkiDir: pki,
    devListener: true,
    env: process.env.BENCH_GATEWAY_ENV ? JSON.parse(process.env.BENCH_GATEWAY_ENV) : {},
  });
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  const stream = `${prefix.toUpperCase()}_TELEMETRY`;
  try {
    const load = await publishLoad({
      host: '127.0.0.1',
      port: Number(gw.line.port),
      clientIds: deviceIds(),
      qos,
      window: WINDOW[qos],
      durationMs: DURATION_MS,
    });
    // Readings the stream has acknowledged (the gateway counts them after each batch's stream ack).
    const url = gw.lines.find((l) => l.msg === 'gateway listening')?.url;
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const delivered = Number(/^rampart_gateway_bridged_total\{[^}]*\} (\d+)/m.exec(metrics)?.[1] ?? 0);
    const streamMessages = (await jsm.streams.info(stream)).state.messages;
    return { delivered, streamMessages, perSecond: Math.round(delivered / (DURATION_MS / 1000)), ...load };
  } finally {
    await gw.stop();
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  }
}

export async function run() {
  const mosquittoUp = await reachable(MOSQUITTO);
  const results = {};
  for (const qos of [0, 1]) {
    results[`qos${qos}`] = {
      gateway: await gateway(qos),
      bareAedes: await bareAedes(qos),
      mosquitto: mosquittoUp ? await throughSubscriber(MOSQUITTO, qos) : null,
    };
    const r = results[`qos${qos}`];
    r.ratioVsAedes = Math.round((r.gateway.perSecond / r.bareAedes.perSecond) * 1000) / 1000;
    r.ratioVsMosquitto = r.mosquitto ? Math.round((r.gateway.perSecond / r.mosquitto.perSecond) * 1000) / 1000 : null;
    process.stdout.write(
      `  QoS ${qos}: gateway ${r.gateway.perSecond}/s, bare Aedes ${r.bareAedes.perSecond}/s, Mosquitto ${r.mosquitto?.perSecond ?? 'n/a'}/s\n`,
    );
  }
  return writeReport({
    name: 'gateway-throughput',
    value: results.qos1.gateway.perSecond,
    unit: 'msgs/s (QoS 1, delivered)',
    baseline: 'bare Aedes',
    baseline_value: results.qos1.bareAedes.perSecond,
    goal: '>= 0.7x bare Aedes',
    clients: CLIENTS,
    durationMs: DURATION_MS,
    window: WINDOW,
    ...results,
  });
}
