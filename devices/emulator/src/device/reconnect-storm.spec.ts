import { EventEmitter } from 'node:events';
import type { IClientOptions, MqttClient } from 'mqtt';
import { seededRandom } from '@rampart/testing';
import { describe, expect, it } from 'vitest';
import { EmulatedDevice } from './emulated-device.js';
import { MqttJsTransport } from './mqtt-js-transport.js';
import { VirtualClock } from './virtual-clock.js';

/**
 * A broker stand-in: clients connect while it is up, and a restart drops
 * every connection at once. It records when each connection came up.
 */
class FakeBroker {
  up = true;
  readonly clients = new Set<EventEmitter>();
  readonly connectedAt: number[] = [];

  constructor(private readonly clock: VirtualClock) {}

  connect = (_options: IClientOptions): MqttClient => {
    const client = Object.assign(new EventEmitter(), {
      publish: () => client,
      subscribe: () => client,
      end: (_force?: boolean, _options?: object, done?: () => void) => {
        this.clients.delete(client);
        done?.();
        return client;
      },
    });
    queueMicrotask(() => {
      if (this.up) {
        this.clients.add(client);
        this.connectedAt.push(this.clock.now());
        client.emit('connect');
      } else {
        client.emit('error', new Error('ECONNREFUSED'));
      }
    });
    return client as unknown as MqttClient;
  };

  restart(): void {
    this.up = false;
    for (const client of [...this.clients]) {
      this.clients.delete(client);
      client.emit('close');
    }
  }
}

describe('reconnect storm after a broker restart', () => {
  it.each([1_000, 5_000, 30_000])(
    'spreads the fleet so no second carries more than 10 per cent of the reconnects (broker down $0 ms)',
    async (downMs) => {
      const clock = new VirtualClock();
      const broker = new FakeBroker(clock);
      const env = {
        now: clock.now,
        random: seededRandom(downMs),
        setTimer: clock.setTimer,
        clearTimer: clock.clearTimer,
        transport: new MqttJsTransport(broker.connect),
      };
      const devices = Array.from(
        { length: Number(process.env.STORM_DEVICES ?? 2_000) },
        (_, i) =>
          new EmulatedDevice(
            {
              deviceId: i.toString(16).padStart(64, '0'),
              endpoint: { kind: 'dev', host: 'broker', port: 1 },
              ratePerSecond: 0,
              metricsPerReading: 1,
            },
            env,
          ),
      );
      for (const device of devices) device.start();
      await clock.advance(10);
      expect(broker.clients.size).toBe(devices.length);

      broker.connectedAt.length = 0;
      const restartAt = clock.now();
      broker.restart();
      await clock.advance(downMs);
      broker.up = true;
      await clock.advance(180_000);

      expect(broker.connectedAt).toHaveLength(devices.length);
      const perSecond = new Map<number, number>();
      for (const at of broker.connectedAt) {
        const second = Math.floor((at - restartAt) / 1000);
        perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
      }
      const busiest = Math.max(...perSecond.values());
      expect(busiest / devices.length).toBeLessThanOrEqual(0.1);
      for (const device of devices) await device.stop();
    },
  );
});
