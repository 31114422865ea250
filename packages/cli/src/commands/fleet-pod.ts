import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { SCENARIO_NAMES, runFleet } from '@rampart/emulator';
import { env, loadConfig, type Env } from '@rampart/service-kit';
import { CertificateAuthority } from '@rampart/trust';
import { PlatformClient } from '../embedded/platform-client.js';
import { claimDevices, warnWithoutRoot } from './claim-devices.js';
import { parseHostPort, writeFleetReports } from './fleet.js';

/** The emulator pod's environment; every key is checked at start-up and every bad one named. */
export const fleetPodEnvSchema = z.object({
  /** The gateway's MQTT/TLS endpoint, host:port. */
  GATEWAY: z.string().regex(/^.+:\d+$/, 'host:port'),
  GATEWAY_SERVERNAME: z.string().min(1).default('localhost'),
  /** Devices this pod runs. */
  DEVICES_PER_POD: env.positiveInt().max(100_000).default(100),
  /** The pod's ordinal (a StatefulSet's); default: the number at the end of the host name. */
  POD_ORDINAL: z.coerce.number().int().min(0).optional(),
  /** A volume: each device keeps its key, fuses and flash in `<STATE_DIR>/<index>`, so a restarted pod has the same identities. */
  STATE_DIR: z.string().min(1).optional(),
  /** The manufacturer CA that endorses new devices (the emulated factory), and the CA of the gateway's certificate. */
  MANUFACTURER_CA_CERT_FILE: z.string().min(1),
  MANUFACTURER_CA_KEY_FILE: z.string().min(1),
  GATEWAY_CA_FILE: z.string().min(1),
  RATE: z.coerce.number().min(0).max(1_000).default(0.2),
  METRICS: env.positiveInt().max(64).default(4),
  SCENARIO: z.enum(SCENARIO_NAMES).default('steady'),
  /** How long to run; 0 runs until SIGTERM. */
  DURATION_MS: z.coerce.number().int().min(0).default(0),
  /** Comma-separated sample apps in the firmware. */
  APPS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((a) => a.trim())
        .filter((a) => a !== ''),
    ),
  /** With a token, the pod claims its devices for that tenant before they connect. */
  ATTESTATION_API: env.url(['http', 'https']).optional(),
  TENANT_TOKEN: z.string().min(1).optional(),
  /** The update server (host:port), so the pod's devices take part in rollouts; without it they never update. */
  UPDATE_SERVER: z
    .string()
    .regex(/^.+:\d+$/, 'host:port')
    .optional(),
  /** The name in the update server's certificate (default: the host of UPDATE_SERVER). */
  UPDATE_SERVER_SERVERNAME: z.string().min(1).optional(),
  REPORT_DIR: z.string().min(1).default('reports/fleet'),
});
export type FleetPodConfig = z.infer<typeof fleetPodEnvSchema>;

/** A StatefulSet pod is `<name>-<ordinal>`. */
export function ordinalFromHostname(name: string): number {
  const match = /-(\d+)$/.exec(name);
  return match === null ? 0 : Number(match[1]);
}

/**
 * The emulator as a container: DEVICES_PER_POD devices configured by the
 * environment, run until SIGTERM (or DURATION_MS), their identities kept on
 * the STATE_DIR volume so a restarted pod is the same devices.
 */
export async function fleetPod(source: Env): Promise<number> {
  const config = loadConfig('fleet-pod', fleetPodEnvSchema, source);
  const ordinal = config.POD_ORDINAL ?? ordinalFromHostname(hostname());
  const { host, port } = parseHostPort(config.GATEWAY);
  const manufacturerCa = await CertificateAuthority.load({
    certificatePem: await readFile(config.MANUFACTURER_CA_CERT_FILE, 'utf8'),
    privateKeyPem: await readFile(config.MANUFACTURER_CA_KEY_FILE, 'utf8'),
  });
  const updateServer =
    config.UPDATE_SERVER === undefined
      ? undefined
      : (() => {
          const target = parseHostPort(config.UPDATE_SERVER);
          return { host: target.host, port: target.port, servername: config.UPDATE_SERVER_SERVERNAME ?? target.host };
        })();
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGTERM', onSignal).once('SIGINT', onSignal);
  process.stderr.write(
    `fleet pod ${ordinal}: ${config.DEVICES_PER_POD} devices → ${config.GATEWAY}, scenario ${config.SCENARIO}, state ${config.STATE_DIR ?? '(memory: new identities each start)'}\n`,
  );
  const report = await runFleet({
    devices: config.DEVICES_PER_POD,
    ratePerDevice: config.RATE,
    durationMs: config.DURATION_MS === 0 ? Number.MAX_SAFE_INTEGER : config.DURATION_MS,
    metricsPerReading: config.METRICS,
    endpoint: { kind: 'tls', host, port, servername: config.GATEWAY_SERVERNAME },
    manufacturerCa,
    gatewayCaPem: await readFile(config.GATEWAY_CA_FILE, 'utf8'),
    scenario: config.SCENARIO,
    apps: config.APPS,
    ...(config.STATE_DIR === undefined ? {} : { stateDir: config.STATE_DIR }),
    ...(updateServer === undefined ? {} : { updates: { server: updateServer } }),
    signal: stop.signal,
    beforeStart: async (devices) => {
      if (config.TENANT_TOKEN === undefined || config.ATTESTATION_API === undefined) return;
      // Claiming is idempotent for the same tenant, so a restarted pod claims again harmlessly (a device keeps the root it has).
      warnWithoutRoot(await claimDevices(new PlatformClient(config.ATTESTATION_API.replace(/\/$/, '')), config.TENANT_TOKEN, devices));
    },
  });
  process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
  const written = await writeFleetReports(report, join(config.REPORT_DIR, `pod-${ordinal}`));
  process.stderr.write(`fleet pod ${ordinal}: report ${written.html}\n`);
  return report.unacknowledged === 0 && report.devicesAttested === report.devices ? 0 : 1;
}
