import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { SCENARIO_NAMES, runFleet } from '@rampart/emulator';
import { env, loadConfig, type Env } from '@rampart/service-kit';
import { CertificateAuthority } from '@rampart/trust';
import { DEMO_TENANT, ensureDemoTenant, releaseDemoMeasurements } from '../demo-setup.js';
import { loadFirmwareSigners } from '../firmware-signing.js';
import { ApiClient } from '@rampart/api-client';
import { claimDevices, warnWithoutRoot } from './claim-devices.js';
import { parseHostPort, writeFleetReports } from './fleet.js';

/** The emulator pod's environment; every key is checked at start-up and every bad one named. */
export const fleetPodEnvSchema = z
  .object({
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
    /**
     * The device maker's firmware signing keys (PEM, P-256): devices are fused to trust them, so images signed with
     * them can be rolled out to the pod's devices. Without them each start makes new keys, which only the pod holds.
     */
    FIRMWARE_PLATFORM_KEY_FILE: z.string().min(1).optional(),
    FIRMWARE_APPS_KEY_FILE: z.string().min(1).optional(),
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
    /**
     * A development install's first run (the chart's fleet.demoSetup): with the platform operator's token the pod
     * releases the demo firmware's measurements and, without TENANT_TOKEN, creates DEMO_TENANT and keeps its
     * Administrator token on the STATE_DIR volume.
     */
    DEMO_SETUP: env.bool().default(false),
    PLATFORM_ADMIN_TOKEN: z.string().min(1).optional(),
    DEMO_TENANT: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'a tenant id: lower-case letters, digits and hyphens')
      .default(DEMO_TENANT),
  })
  .superRefine((config, context) => {
    if ((config.FIRMWARE_PLATFORM_KEY_FILE === undefined) !== (config.FIRMWARE_APPS_KEY_FILE === undefined)) {
      context.addIssue({ code: 'custom', path: ['FIRMWARE_APPS_KEY_FILE'], message: 'set both firmware signing keys, or neither' });
    }
    if (!config.DEMO_SETUP) return;
    const needs = (key: keyof typeof config, why: string) => {
      if (config[key] === undefined) context.addIssue({ code: 'custom', path: [key], message: `required with DEMO_SETUP (${why})` });
    };
    needs('PLATFORM_ADMIN_TOKEN', 'measurements are released by the platform operator');
    needs('ATTESTATION_API', 'where the demo setup is done');
    if (config.TENANT_TOKEN === undefined) needs('STATE_DIR', "where the demo tenant's token is kept");
  });
export type FleetPodConfig = z.infer<typeof fleetPodEnvSchema>;

/**
 * The token the pod claims its devices with: TENANT_TOKEN, or with
 * DEMO_SETUP the demo tenant's (after releasing the demo measurements). The
 * attestation service may still be starting (a fresh install starts
 * everything at once), so the pod waits for it to be ready first.
 */
async function tenantTokenFor(
  config: FleetPodConfig,
  client: ApiClient,
  ordinal: number,
  signal: AbortSignal,
): Promise<string | undefined> {
  if (!config.DEMO_SETUP && config.TENANT_TOKEN === undefined) return undefined;
  await waitUntilReady(config.ATTESTATION_API!, signal);
  if (!config.DEMO_SETUP) return config.TENANT_TOKEN;
  await releaseDemoMeasurements(client, config.PLATFORM_ADMIN_TOKEN!);
  if (config.TENANT_TOKEN !== undefined) return config.TENANT_TOKEN;
  // Pods start in parallel and keep the token on their own volumes: one creator, or all but one would be refused.
  if (ordinal !== 0) {
    throw new Error(
      `fleet pod ${ordinal}: DEMO_SETUP creates the ${config.DEMO_TENANT} tenant on pod 0 only; give every pod one token with TENANT_TOKEN (fleet.tenantToken)`,
    );
  }
  const tenant = await ensureDemoTenant(
    client,
    config.PLATFORM_ADMIN_TOKEN!,
    config.STATE_DIR!,
    config.DEMO_TENANT,
    "this pod's volume does not hold it (it was created by an earlier install): give the pods a token with fleet.tenantToken",
  );
  process.stderr.write(
    `fleet pod ${ordinal}: devices are claimed for tenant ${tenant.id} (its Administrator token: ${config.STATE_DIR}/tenant-${tenant.id}.token)\n`,
  );
  return tenant.adminToken;
}

/** Polls the service's /readyz until it answers 200 (or the pod is stopped). */
async function waitUntilReady(baseUrl: string, signal: AbortSignal): Promise<void> {
  const readyz = new URL('/readyz', baseUrl);
  for (let attempt = 0; ; attempt++) {
    const status = await fetch(readyz, { signal: AbortSignal.any([signal, AbortSignal.timeout(5_000)]) }).then(
      (r) => r.status,
      () => 0,
    );
    if (status === 200) return;
    signal.throwIfAborted();
    if (attempt % 15 === 0) process.stderr.write(`fleet pod: waiting for ${readyz.href} (${status === 0 ? 'no answer' : status})\n`);
    await sleep(2_000, undefined, { signal });
  }
}

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
    ...(config.FIRMWARE_PLATFORM_KEY_FILE === undefined || config.FIRMWARE_APPS_KEY_FILE === undefined
      ? {}
      : { firmwareSigners: await loadFirmwareSigners(config.FIRMWARE_PLATFORM_KEY_FILE, config.FIRMWARE_APPS_KEY_FILE) }),
    ...(config.STATE_DIR === undefined ? {} : { stateDir: config.STATE_DIR }),
    ...(updateServer === undefined ? {} : { updates: { server: updateServer } }),
    signal: stop.signal,
    beforeStart: async (devices) => {
      if (config.ATTESTATION_API === undefined) return;
      const client = new ApiClient(config.ATTESTATION_API.replace(/\/$/, ''));
      const tenantToken = await tenantTokenFor(config, client, ordinal, stop.signal);
      if (tenantToken === undefined) return;
      // Claiming is idempotent for the same tenant, so a restarted pod claims again harmlessly (a device keeps the root it has).
      warnWithoutRoot(await claimDevices(client, tenantToken, devices));
    },
  });
  process.off('SIGTERM', onSignal).off('SIGINT', onSignal);
  const written = await writeFleetReports(report, join(config.REPORT_DIR, `pod-${ordinal}`));
  process.stderr.write(`fleet pod ${ordinal}: report ${written.html}\n`);
  // The counts on stdout too, one JSON line: `kubectl logs` keeps them after the pod's /tmp is gone.
  const { deviceIds: _ids, timeline: _timeline, events: _events, sampleCertificate: _sample, ...counts } = report;
  process.stdout.write(`${JSON.stringify({ fleetPod: ordinal, ...counts })}\n`);
  return report.unacknowledged === 0 && report.devicesAttested === report.devices ? 0 : 1;
}
