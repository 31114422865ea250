import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { metrics } from '@opentelemetry/api';
import { Subject, type ReceivedFailureReport } from '@rampart/contracts';
import { createLogger, decodeJson, encodeJson, systemClock, type NatsBus, type TypedBus } from '@rampart/service-kit';
import { waitFor } from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertSink } from '../src/alerts/alert-sink.js';
import { SpikeDetector } from '../src/alerts/spike-detector.js';
import { DEFAULT_SPIKE_RULE } from '../src/alerts/spike-rule.js';
import type { RunningFailures } from '../src/start-failures.js';
import { startFailuresEnvironment, type FailuresEnvironment } from './failures-environment.js';

const device = (n: number) => n.toString(16).padStart(64, '0');

describe('failures service', () => {
  let env: FailuresEnvironment;
  let service: RunningFailures;
  let bus: NatsBus;
  let typed: TypedBus;

  beforeAll(async () => {
    env = await startFailuresEnvironment('failsvc');
    ({ service, bus, typed } = env);
  });

  afterAll(async () => {
    await env?.close();
  });

  async function crashes(version: string, devices: number, perDevice: number, tenantId = 'acme', firstDevice = 0): Promise<void> {
    for (let d = 0; d < devices; d++) {
      for (let i = 0; i < perDevice; i++) {
        const message: ReceivedFailureReport = {
          deviceId: device(firstDevice + d),
          tenantId,
          receivedAt: Date.now(),
          report: {
            seq: Number(`${version.replaceAll('.', '')}${i}`),
            at: Date.now(),
            kind: 'app-crash',
            component: 'app:sensor',
            version,
            exitCode: 1,
            signal: null,
            message: 'TypeError',
            frames: [],
          },
        };
        await bus.publishDurable(Subject.failuresReportReceived, encodeJson({ reports: [message] }), { msgId: randomUUID() });
      }
    }
  }

  it('answers the rollout gate: worse, healthy, or not enough data yet — over the bus, per tenant', async () => {
    // Baseline 1.0.0: 20 crashes over 10,000 device-hours; candidate 1.1.0: 15 crashes over 1,000 (7.5x).
    await crashes('1.0.0', 20, 1);
    await crashes('1.1.0', 5, 3);
    // Another tenant's crashes of the same versions must not count.
    await crashes('1.1.0', 10, 5, 'globex', 1_000);
    await waitFor(async () => (await service.repository.totals()).reports === 85, { describe: '85 reports stored' });
    const since = Date.now() - 3_600_000;
    const ask = (candidateHours: number, tenantId = 'acme') =>
      typed.request(Subject.failuresHealthCompare, {
        tenantId,
        component: 'app:sensor',
        candidate: { version: '1.1.0', deviceHours: candidateHours },
        baseline: { version: '1.0.0', deviceHours: 10_000 },
        since,
      });
    const worse = await ask(1_000);
    expect(worse).toMatchObject({ verdict: 'worse', candidateCrashes: 15, baselineCrashes: 20 });
    expect(worse.test).toMatch(/exact conditional binomial/);
    // The same crashes spread over 20,000 device-hours are a lower rate than the baseline's: healthy.
    expect(await ask(20_000)).toMatchObject({ verdict: 'healthy' });
    expect(await ask(10)).toMatchObject({ verdict: 'insufficient-data' });
    // A tenant with no reports: no crashes either side.
    expect(await ask(1_000, 'initech')).toMatchObject({ candidateCrashes: 0, baselineCrashes: 0 });
  });

  it('alerts on a spike by broadcast and webhook', async () => {
    const received: unknown[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const broadcasts: unknown[] = [];
    const listener = await bus.listen(Subject.failuresBucketSpiked, (data) => broadcasts.push(decodeJson(data)));
    try {
      await crashes('9.9.9', 12, 1);
      await waitFor(async () => (await service.repository.totals()).reports >= 97, { describe: '12 more reports' });
      const logger = createLogger('failures', 'silent');
      // Two replicas' detectors, checking at the same moment.
      const [detector, replica] = [1, 2].map(
        () =>
          new SpikeDetector(
            service.repository,
            new AlertSink(bus, `http://127.0.0.1:${port}/hook`, logger, metrics.getMeter('test')),
            DEFAULT_SPIKE_RULE,
            logger,
            systemClock,
          ),
      ) as [SpikeDetector, SpikeDetector];
      // Every bucket of this test is new within the hour, so each with at least 10 recent reports spikes.
      const now = Date.now();
      const [mine, theirs] = await Promise.all([detector.check(now), replica.check(now)]);
      const spiked = [...mine, ...theirs];
      expect(spiked.length).toBeGreaterThanOrEqual(1);
      // One alert per bucket across replicas, and once per window, not on every check.
      expect(new Set(spiked).size).toBe(spiked.length);
      expect(await detector.check(now + 1_000)).toEqual([]);
      expect(await replica.check(now + 1_000)).toEqual([]);
      await waitFor(() => broadcasts.length === spiked.length && received.length === spiked.length, { describe: 'spike alerts' });
      expect(received).toContainEqual(
        expect.objectContaining({ type: 'bucket.spiked', tenantId: 'acme', recent: 12, title: expect.stringContaining('9.9.9') }),
      );
    } finally {
      await listener.close();
      server.close();
    }
  });

  it('refuses a malformed question with a clear error', async () => {
    await expect(typed.request(Subject.failuresHealthCompare, { tenantId: 'acme' } as never)).rejects.toThrow(
      /candidate|component|invalid/i,
    );
  });
});
