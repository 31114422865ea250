import mqtt from 'mqtt';

/**
 * The load script every broker gets: `clients` publishers, each keeping at
 * most `window` publishes outstanding (written for QoS 0, acknowledged for
 * QoS 1), for `durationMs`. Payloads are valid Rampart telemetry so the
 * gateway's full path (ACL, validation, bridge) runs.
 * @param {{host: string, port: number, clientIds: string[], qos: 0 | 1, window: number, durationMs: number, metrics?: number}} options
 */
export async function publishLoad(options) {
  const metrics = Object.fromEntries(Array.from({ length: options.metrics ?? 4 }, (_, i) => [`m${i}`, i]));
  const clients = await Promise.all(
    options.clientIds.map(
      (clientId) =>
        new Promise((resolve, reject) => {
          const client = mqtt.connect({
            host: options.host,
            port: options.port,
            protocolVersion: 4,
            clientId,
            clean: true,
            reconnectPeriod: 0,
          });
          client.once('connect', () => resolve(client));
          client.once('error', reject);
        }),
    ),
  );
  const until = Date.now() + options.durationMs;
  let published = 0;
  let acknowledged = 0;
  let errors = 0;
  await Promise.all(
    clients.map(
      (client, index) =>
        new Promise((resolve) => {
          const topic = `devices/${options.clientIds[index]}/telemetry`;
          let seq = 0;
          let outstanding = 0;
          const next = () => {
            while (outstanding < options.window && Date.now() < until) {
              outstanding++;
              published++;
              const payload = JSON.stringify({ seq: seq++, ts: Date.now(), metrics });
              client.publish(topic, payload, { qos: options.qos }, (error) => {
                outstanding--;
                if (error) errors++;
                else acknowledged++;
                if (Date.now() < until) next();
                else if (outstanding === 0) resolve(undefined);
              });
            }
          };
          next();
        }),
    ),
  );
  await Promise.all(clients.map((c) => c.endAsync()));
  return { published, acknowledged, errors };
}

/**
 * Counts messages a subscriber receives on `filter`.
 * @param {{host: string, port: number, filter: string, qos: 0 | 1}} options
 */
export async function countingSubscriber(options) {
  const client = mqtt.connect({
    host: options.host,
    port: options.port,
    protocolVersion: 4,
    clientId: `bench-sink-${process.pid}-${Date.now()}`,
    clean: true,
  });
  await new Promise((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  let count = 0;
  client.on('message', () => count++);
  await client.subscribeAsync(options.filter, { qos: options.qos });
  return { count: () => count, close: () => client.endAsync() };
}
