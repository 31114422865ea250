// The baseline fleet: plain mqtt.js clients (no TLS, no attestation, no
// device model) publishing QoS 1 to a bare Aedes broker. Prints one JSON
// line: connected, published/acknowledged, p99 PUBACK latency, memory.
import mqtt from 'mqtt';

const e = process.env;
const devices = Number(e.FLEET_DEVICES);
const intervalMs = 1000 / Number(e.FLEET_RATE);
const durationMs = Number(e.FLEET_DURATION_MS);
const rss = () => process.memoryUsage().rss;
const rssBefore = rss();
const clients = [];
const latencies = [];
let published = 0;
let acknowledged = 0;
for (let i = 0; i < devices; i++) {
  const id = i.toString(16).padStart(64, '0');
  const client = mqtt.connect({
    host: '127.0.0.1',
    port: Number(e.FLEET_BROKER_PORT),
    clientId: id,
    protocolVersion: 4,
    reconnectPeriod: 1000,
  });
  clients.push(client);
  if (i % 100 === 99) await new Promise((r) => setTimeout(r, 1000 / (Number(e.FLEET_CONNECT_RATE) / 100)));
}
await new Promise((resolve) => {
  const check = setInterval(() => {
    if (clients.every((c) => c.connected)) {
      clearInterval(check);
      resolve();
    }
  }, 100);
});
const rssHeld = rss();
const timers = clients.map((client, i) =>
  setTimeout(() => {
    const tick = () => {
      const sent = performance.now();
      published++;
      client.publish(
        `devices/${i}/telemetry`,
        JSON.stringify({ seq: published, ts: Date.now(), metrics: { a: 1, b: 2, c: 3, d: 4 } }),
        { qos: 1 },
        () => {
          acknowledged++;
          latencies.push(performance.now() - sent);
        },
      );
    };
    tick();
    timers[i] = setInterval(tick, intervalMs);
  }, Math.random() * intervalMs),
);
await new Promise((r) => setTimeout(r, durationMs));
for (const t of timers) clearInterval(t);
await new Promise((r) => setTimeout(r, 3000));
for (const c of clients) c.end(true);
latencies.sort((a, b) => a - b);
const p99 = latencies.length === 0 ? null : Math.round(latencies[Math.min(latencies.length - 1, Math.ceil(latencies.length * 0.99) - 1)]);
process.stdout.write(
  `${JSON.stringify({ connected: clients.length, published, acknowledged, p99Ms: p99, bytesPerDevice: Math.round((rssHeld - rssBefore) / devices) })}\n`,
);
process.exit(0);
