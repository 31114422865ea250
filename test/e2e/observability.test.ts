import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runFleet } from '@rampart/emulator';
import {
  TEST_NATS_URL,
  attestationTestEnv,
  createTestDatabase,
  createTestPki,
  freePort,
  removeBusPrefix,
  uniqueBusPrefix,
  waitFor,
  type TestDatabase,
  type TestPki,
} from '@rampart/testing';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  type ServiceProcess,
  gatewayTlsEnv,
  scrapeMetric,
  startAttestationWithTenant,
  startFailuresProcess,
  startGatewayProcess,
  startTelemetryProcess,
  startUpdatesProcess,
  updatesKeysEnv,
} from '../support/service-process.js';

const CHART = join(REPO_ROOT, 'charts/rampart');
const HISTOGRAM_SERIES = /_(bucket|sum|count)$/;

/** Every PromQL expression of the chart's Grafana dashboards and Prometheus alerts. */
function chartQueries(): Array<{ where: string; expr: string }> {
  const queries: Array<{ where: string; expr: string }> = [];
  for (const file of readdirSync(join(CHART, 'dashboards'))) {
    const dashboard = JSON.parse(readFileSync(join(CHART, 'dashboards', file), 'utf8')) as {
      panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
    };
    for (const panel of dashboard.panels) for (const t of panel.targets) queries.push({ where: `${file}: ${panel.title}`, expr: t.expr });
  }
  const rules = parse(readFileSync(join(CHART, 'alerts/rampart.rules.yml'), 'utf8')) as {
    groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
  };
  for (const group of rules.groups) for (const r of group.rules) queries.push({ where: `alert ${r.alert}`, expr: r.expr });
  return queries;
}

/** Metric families a PromQL expression reads (histogram series by their family name). */
function metricsIn(expr: string): string[] {
  return [...expr.matchAll(/\brampart_[a-z0-9_]+/g)].map((m) => m[0].replace(HISTOGRAM_SERIES, ''));
}

/** Metric families in a Prometheus text page. */
function familiesIn(text: string): Set<string> {
  const families = new Set<string>();
  for (const line of text.split('\n')) {
    const match = /^(rampart_[a-z0-9_]+)[{ ]/.exec(line);
    if (match !== null) families.add(match[1]!.replace(HISTOGRAM_SERIES, ''));
  }
  return families;
}

/**
 * The chart's dashboards and alerts against the running services: every
 * metric they use is in a scrape of the services after a short fleet run,
 * and a real Prometheus (Debian's package) scraping the same services
 * answers every one of their queries, with data for the pipeline's.
 */
describe('observability: dashboards and alerts against the running services', () => {
  let db: TestDatabase;
  let pki: TestPki;
  let dir: string;
  const prefix = uniqueBusPrefix('obs');
  const processes: ServiceProcess[] = [];
  const urls: Record<string, string> = {};
  let prometheus: ChildProcess | undefined;

  beforeAll(async () => {
    db = await createTestDatabase();
    pki = await createTestPki();
    dir = await mkdtemp(join(tmpdir(), 'rampart-obs-'));
    const common = { DATABASE_URL: db.url, NATS_URL: TEST_NATS_URL, BUS_PREFIX: prefix };
    const operatorToken = randomBytes(24).toString('hex');
    const attestation = await startAttestationWithTenant(
      { ...attestationTestEnv({ databaseUrl: db.url, natsUrl: TEST_NATS_URL, prefix, pki, operatorToken }), FLEET_GAUGES_MS: '500' },
      operatorToken,
    );
    processes.push(attestation.process);
    urls['attestation'] = attestation.url;
    const telemetry = await startTelemetryProcess('telemetry', { ...common, INGEST_FLUSH_MS: '50' });
    const failures = await startFailuresProcess('failures', { ...common, INGEST_FLUSH_MS: '20' });
    const gateway = await startGatewayProcess('gateway', { NATS_URL: TEST_NATS_URL, BUS_PREFIX: prefix, ...gatewayTlsEnv(pki) });
    const updates = await startUpdatesProcess('updates', {
      ...common,
      ...updatesKeysEnv(pki),
    });
    processes.push(telemetry.process, failures.process, gateway.process, updates.process);
    Object.assign(urls, { telemetry: telemetry.url, failures: failures.url, gateway: gateway.url, updates: updates.url });

    // Traffic through every path the dashboards watch: attestation, telemetry, crashes and heartbeats, REST calls.
    const report = await runFleet({
      devices: 5,
      ratePerDevice: 5,
      durationMs: 6_000,
      metricsPerReading: 2,
      endpoint: { kind: 'tls', host: '127.0.0.1', port: gateway.mqttPort, servername: 'localhost' },
      manufacturerCa: pki.manufacturerCa,
      gatewayCaPem: pki.platformCa.certificatePem,
      apps: ['sensor'],
      appConfig: { sensor: { intervalMs: 500, crashRate: 0.2 } },
      heartbeatIntervalMs: 2_000,
      beforeStart: async (devices) => {
        for (const d of devices) await attestation.call('PUT', `/v1/devices/${d.security.deviceId}/claim`, attestation.tenantToken);
      },
    });
    expect(report.devicesAttested).toBe(5);
    for (const [service, path] of [
      ['attestation', '/v1/devices'],
      ['telemetry', '/v1/telemetry/devices'],
      ['failures', '/v1/failure-buckets'],
      ['updates', '/v1/images'],
    ] as const) {
      await fetch(`${urls[service]}${path}`, { headers: { authorization: `Bearer ${attestation.tenantToken}` } });
    }
  });

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    await Promise.all(processes.map((p) => p.stop()));
    await removeBusPrefix(prefix);
    await db?.drop();
    await pki?.remove();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('finds every metric a dashboard or alert uses in a scrape of the services', async () => {
    const scraped = new Set<string>();
    await waitFor(
      async () => {
        for (const url of Object.values(urls)) for (const f of familiesIn(await (await fetch(`${url}/metrics`)).text())) scraped.add(f);
        return (
          scraped.has('rampart_telemetry_ingest_lag_seconds') &&
          scraped.has('rampart_failures_reports_stored_total') &&
          scraped.has('rampart_fleet_os_versions')
        );
      },
      { timeoutMs: 20_000, describe: 'the pipeline metrics in the scrapes' },
    );
    // The fleet gauges count the run's devices: all attested, on the demo OS.
    expect(await scrapeMetric(urls['attestation']!, 'rampart_fleet_devices', 'state="attested"')).toBe(5);
    expect(await scrapeMetric(urls['attestation']!, 'rampart_fleet_devices', 'state="quarantined"')).toBe(0);
    expect(await scrapeMetric(urls['attestation']!, 'rampart_fleet_os_versions', 'version="1.0.0"')).toBe(5);
    const used = new Set(chartQueries().flatMap((q) => metricsIn(q.expr)));
    expect(used.size).toBeGreaterThan(20);
    const missing = chartQueries().flatMap((q) =>
      metricsIn(q.expr)
        .filter((m) => !scraped.has(m))
        .map((m) => `${m} (${q.where})`),
    );
    expect(missing).toEqual([]);
  });

  it("answers every dashboard and alert query from a real Prometheus scraping the services, with data for the pipeline's", async () => {
    const port = await freePort();
    const targets = Object.values(urls).map((u) => new URL(u).host);
    await writeFile(
      join(dir, 'prometheus.yml'),
      `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: rampart\n    static_configs:\n      - targets: ${JSON.stringify(targets)}\n`,
    );
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );
    // Prometheus' HTTP API answers are read field by field below.
    const api = async (path: string): Promise<any> => (await fetch(`http://127.0.0.1:${port}${path}`)).json();
    await waitFor(
      async () => {
        const answer = await api('/api/v1/targets').catch(() => undefined);
        const active: Array<{ health: string }> = answer?.data?.activeTargets ?? [];
        return active.length === targets.length && active.every((t) => t.health === 'up');
      },
      { timeoutMs: 30_000, intervalMs: 500, describe: 'Prometheus scraping every service' },
    );
    // Enough samples for rate() over the dashboards' windows to see the fleet's traffic.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    const at = (Date.now() / 1000).toFixed(3);
    for (const q of chartQueries()) {
      const answer = await api(`/api/v1/query?query=${encodeURIComponent(q.expr)}&time=${at}`);
      expect(answer.status, `${q.where}: ${answer.error ?? ''}`).toBe('success');
    }
    const online = await api(`/api/v1/query?query=${encodeURIComponent('sum(rampart_telemetry_readings_stored_total)')}`);
    expect(Number(online.data.result[0]?.value[1] ?? 0)).toBeGreaterThan(0);
    const lag = await api(`/api/v1/query?query=${encodeURIComponent('sum(rampart_telemetry_ingest_lag_seconds_count)')}`);
    expect(Number(lag.data.result[0]?.value[1] ?? 0)).toBeGreaterThan(0);
  });
});
