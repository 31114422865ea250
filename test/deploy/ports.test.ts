import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadApiConfig } from '@rampart/api';
import { loadAttestationConfig } from '@rampart/attestation';
import { DEFAULT_PORTS } from '@rampart/contracts/ports';
import { loadFailuresConfig } from '@rampart/failures';
import { loadGatewayConfig } from '@rampart/gateway';
import { loadTelemetryConfig } from '@rampart/telemetry';
import { loadUpdatesConfig } from '@rampart/updates';
import { parse, parseAllDocuments } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;
const CHART = join(ROOT, 'charts/rampart');

/** Each service's HTTP port (API, health, metrics) by the name the chart, Compose and the CLI call it. */
const HTTP_PORTS = {
  gateway: DEFAULT_PORTS.gatewayHttp,
  attestation: DEFAULT_PORTS.attestation,
  telemetry: DEFAULT_PORTS.telemetry,
  failures: DEFAULT_PORTS.failures,
  updates: DEFAULT_PORTS.updates,
  api: DEFAULT_PORTS.api,
} as const;
type ServiceName = keyof typeof HTTP_PORTS;
const UPSTREAMS = ['attestation', 'updates', 'failures', 'telemetry'] as const;

/** The env keys each service's deployment sets to a port of the table, besides HTTP_PORT. */
const OTHER_PORTS: Partial<Record<ServiceName, Record<string, number>>> = {
  gateway: { MQTT_PORT: DEFAULT_PORTS.mqtt },
  updates: { DEVICE_PORT: DEFAULT_PORTS.updatesDevice },
};

interface Container {
  command?: string[];
  env?: Array<{ name: string; value?: string }>;
  ports?: Array<{ containerPort: number }>;
}

/** `node services/<name>/dist/main.js` → `<name>`: how a container or a Compose service says which service it runs. */
function serviceRun(command: readonly string[] | undefined): ServiceName | undefined {
  const entry = command?.find((part) => /^services\/[a-z]+\/dist\/main\.js$/.test(part));
  const name = entry?.split('/')[1];
  return name !== undefined && name in HTTP_PORTS ? (name as ServiceName) : undefined;
}

const portOf = (url: string): number => Number(new URL(url).port);

/**
 * `@rampart/contracts/ports` is the one table of default ports. The services take their defaults from it and
 * scripts/up-distributed.sh reads it; the Helm chart and docker/compose.yaml cannot import it, so this compares them.
 */
describe('the port table', () => {
  it("is each service's default HTTP port (and the gateway's MQTT and the update server's device port)", () => {
    const database = { DATABASE_URL: 'postgres://127.0.0.1:5432/test' };
    const files = { TLS_CERT_FILE: 'c', TLS_KEY_FILE: 'k', MANUFACTURER_CA_FILE: 'm', PLATFORM_CA_FILE: 'p' };
    const alone = { BUS: 'in-process' };
    const gateway = loadGatewayConfig({ ...alone, ...files });
    const updates = loadUpdatesConfig({ ...alone, ...database, ...files, UPDATES_KEY_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64') });
    const attestation = loadAttestationConfig({
      ...alone,
      ...database,
      PLATFORM_CA_CERT_FILE: 'c',
      PLATFORM_CA_KEY_FILE: 'k',
      MANUFACTURER_CA_FILE: 'm',
      CA_KEY_ENCRYPTION_KEY: Buffer.alloc(32).toString('base64'),
      PLATFORM_ADMIN_TOKEN: 'x'.repeat(32),
      PUBLIC_BASE_URL: 'http://127.0.0.1',
    });
    const upstream = 'http://127.0.0.1:1';
    const api = loadApiConfig({ ATTESTATION_URL: upstream, UPDATES_URL: upstream, FAILURES_URL: upstream, TELEMETRY_URL: upstream });
    expect({
      gateway: gateway.http.port,
      attestation: attestation.http.port,
      telemetry: loadTelemetryConfig({ ...alone, ...database }).http.port,
      failures: loadFailuresConfig({ ...alone, ...database }).http.port,
      updates: updates.http.port,
      api: api.http.port,
    }).toEqual(HTTP_PORTS);
    expect(gateway.mqtt.port).toBe(DEFAULT_PORTS.mqtt);
    expect(updates.device.port).toBe(DEFAULT_PORTS.updatesDevice);
  });

  it("is the Helm chart's map of HTTP ports (_helpers.tpl)", () => {
    const helpers = readFileSync(join(CHART, 'templates/_helpers.tpl'), 'utf8');
    const map = /\{\{-? define "rampart\.httpPorts" -?\}\}\n([\s\S]*?)\{\{-? end -?\}\}/.exec(helpers)?.[1];
    expect(map, 'rampart.httpPorts in _helpers.tpl').toBeDefined();
    const { api: _front, ...services } = HTTP_PORTS;
    expect(parse(map!)).toEqual(services);
  });

  describe('in the rendered chart', () => {
    let containers: Array<[ServiceName, Container]> = [];

    beforeAll(() => {
      const helm = join(execFileSync(join(ROOT, 'scripts/ensure-helm.sh'), { encoding: 'utf8' }).trim(), 'helm');
      const rendered = spawnSync(helm, ['template', 'demo', CHART, '--namespace', 'iot'], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      if (rendered.status !== 0) throw new Error(rendered.stderr);
      containers = parseAllDocuments(rendered.stdout)
        .map((d) => d.toJS() as { kind?: string; spec?: { template?: { spec?: { containers?: Container[] } } } } | null)
        .filter((o) => o?.kind === 'Deployment' || o?.kind === 'StatefulSet')
        .flatMap((o) => o!.spec?.template?.spec?.containers ?? [])
        .flatMap((c): Array<[ServiceName, Container]> => {
          const service = serviceRun(c.command);
          return service === undefined ? [] : [[service, c]];
        });
    });

    it('gives every service its HTTP port (and the gateway and update server their device ports), in env and containerPort', () => {
      expect(new Set(containers.map(([service]) => service))).toEqual(new Set(Object.keys(HTTP_PORTS)));
      for (const [service, container] of containers) {
        const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value]));
        const expected = { HTTP_PORT: HTTP_PORTS[service], ...OTHER_PORTS[service] };
        for (const [key, port] of Object.entries(expected)) {
          expect(Number(env[key]), `${service} ${key}`).toBe(port);
          expect(
            container.ports?.map((p) => p.containerPort),
            `${service} containerPort`,
          ).toContain(port);
        }
      }
    });

    it("points the API front at each upstream's port", () => {
      const front = containers.find(([service]) => service === 'api')?.[1];
      const env = Object.fromEntries((front?.env ?? []).map((e) => [e.name, e.value]));
      for (const upstream of UPSTREAMS) expect(portOf(env[`${upstream.toUpperCase()}_URL`]!), upstream).toBe(HTTP_PORTS[upstream]);
    });
  });

  describe('in docker/compose.yaml', () => {
    const compose = parseAllDocuments(readFileSync(join(ROOT, 'docker/compose.yaml'), 'utf8'))[0]!.toJS({ maxAliasCount: -1 }) as {
      services: Record<string, { command?: string[]; environment?: Record<string, string>; ports?: string[] }>;
    };
    const services = Object.values(compose.services).flatMap((s) => {
      const service = serviceRun(s.command);
      return service === undefined ? [] : [[service, s] as const];
    });

    it('gives every service its HTTP port (and the gateway and update server their device ports), in env and published ports', () => {
      expect(new Set(services.map(([service]) => service))).toEqual(new Set(Object.keys(HTTP_PORTS)));
      for (const [service, s] of services) {
        const expected = { HTTP_PORT: HTTP_PORTS[service], ...OTHER_PORTS[service] };
        // A published port is `[host:]outside:inside`; the inside one is the service's.
        const inside = (s.ports ?? []).map((p) => Number(p.split(':').at(-1)));
        for (const [key, port] of Object.entries(expected)) {
          expect(Number(s.environment?.[key]), `${service} ${key}`).toBe(port);
          expect(inside, `${service} ports`).toContain(port);
        }
      }
    });

    it("points the API front at each upstream's port, and the fleet at the gateway, update server and attestation", () => {
      const front = services.find(([service]) => service === 'api')?.[1].environment ?? {};
      for (const upstream of UPSTREAMS) expect(portOf(front[`${upstream.toUpperCase()}_URL`]!), upstream).toBe(HTTP_PORTS[upstream]);
      const fleet = compose.services['fleet']?.environment ?? {};
      expect(fleet['GATEWAY']).toBe(`gateway:${DEFAULT_PORTS.mqtt}`);
      expect(fleet['UPDATE_SERVER']).toBe(`updates:${DEFAULT_PORTS.updatesDevice}`);
      expect(portOf(fleet['ATTESTATION_API']!)).toBe(DEFAULT_PORTS.attestation);
    });
  });
});
