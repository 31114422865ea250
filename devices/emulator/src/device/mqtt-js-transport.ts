import type { IClientOptions, MqttClient } from 'mqtt';
import type { ConnectionListener, ConnectionRequest, MqttConnection, MqttTransport } from './ports.js';

export type ConnectFn = (options: IClientOptions) => MqttClient;

const KEEPALIVE_S = 60;
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * The MQTT port on mqtt.js: turns the client's events into the listener's
 * calls. mqtt.js reports a failed connect as `error` and a dropped one as
 * `close` (often both): the listener hears `lost` once.
 */
export class MqttJsTransport implements MqttTransport {
  constructor(private readonly connect: ConnectFn) {}

  open(request: ConnectionRequest, listener: ConnectionListener): MqttConnection {
    const common: IClientOptions = {
      clientId: request.clientId,
      protocolVersion: 4,
      clean: true,
      keepalive: KEEPALIVE_S,
      // Reconnects are the device's: backoff with full jitter, and resending what is pending.
      reconnectPeriod: 0,
      connectTimeout: CONNECT_TIMEOUT_MS,
      host: request.host,
      port: request.port,
    };
    const client =
      request.tls === undefined
        ? this.connect({ ...common, protocol: 'mqtt' })
        : this.connect({
            ...common,
            protocol: 'mqtts',
            secureContext: request.tls.secureContext,
            servername: request.tls.servername,
            rejectUnauthorized: true,
          } as IClientOptions);
    let lost = false;
    const onLost = () => {
      if (lost) return;
      lost = true;
      listener.lost();
    };
    client.on('connect', () => listener.connected());
    client.on('message', (topic, payload) => listener.message(topic, payload));
    client.on('close', onLost);
    client.on('error', onLost);
    return {
      subscribe: (topics, done) => {
        client.subscribe([...topics], { qos: 1 }, (error) => done(error ?? undefined));
      },
      publish: (topic, payload, done) => {
        if (done === undefined) client.publish(topic, payload, { qos: 1 });
        else client.publish(topic, payload, { qos: 1 }, (error) => done(error ?? undefined));
      },
      close: () => {
        client.removeAllListeners();
        // A socket error after the drop must not become an unhandled 'error' event.
        client.on('error', () => undefined);
        client.end(true);
      },
      end: () => new Promise<void>((resolve) => client.end(false, {}, () => resolve())),
    };
  }
}
