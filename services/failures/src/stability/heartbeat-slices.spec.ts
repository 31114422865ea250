import { describe, expect, it } from 'vitest';
import type { ReceivedHeartbeat } from '@rampart/contracts';
import { HOUR_MS, heartbeatSlices } from './heartbeat-slices.js';

const T0 = Date.UTC(2026, 10, 28, 10, 0, 0);

function received(from: number, to: number, receivedAt = to + 100): ReceivedHeartbeat {
  return {
    deviceId: 'd1',
    tenantId: 't1',
    receivedAt,
    heartbeat: {
      seq: 7,
      from,
      to,
      running: [
        { component: 'os', version: '1.0.0' },
        { component: 'app:sensor', version: '1.1.0' },
      ],
    },
  };
}

describe('heartbeatSlices', () => {
  it('gives each running component the interval within one hour', () => {
    const slices = heartbeatSlices(received(T0 + 60_000, T0 + 660_000));
    expect(slices).toEqual([
      { deviceId: 'd1', tenantId: 't1', seq: 7, hour: T0, component: 'os', version: '1.0.0', operatingMs: 600_000 },
      { deviceId: 'd1', tenantId: 't1', seq: 7, hour: T0, component: 'app:sensor', version: '1.1.0', operatingMs: 600_000 },
    ]);
  });

  it('cuts an interval at the hour boundary, keeping its length', () => {
    const slices = heartbeatSlices(received(T0 + HOUR_MS - 300_000, T0 + HOUR_MS + 900_000)).filter((s) => s.component === 'os');
    expect(slices.map((s) => [s.hour, s.operatingMs])).toEqual([
      [T0, 300_000],
      [T0 + HOUR_MS, 900_000],
    ]);
  });

  it('never places time after the gateway received the heartbeat (a device clock running ahead)', () => {
    const slices = heartbeatSlices(received(T0 + 5 * HOUR_MS, T0 + 5 * HOUR_MS + 600_000, T0 + 600_000)).filter(
      (s) => s.component === 'os',
    );
    expect(slices).toEqual([expect.objectContaining({ hour: T0, operatingMs: 600_000 })]);
  });

  it('counts a component listed twice once', () => {
    const r = received(T0, T0 + 1_000);
    const twice = { ...r, heartbeat: { ...r.heartbeat, running: [...r.heartbeat.running, { component: 'os', version: '1.0.0' }] } };
    expect(heartbeatSlices(twice)).toHaveLength(2);
  });

  it('gives an empty interval no time', () => {
    expect(heartbeatSlices(received(T0, T0))).toEqual([]);
  });
});
