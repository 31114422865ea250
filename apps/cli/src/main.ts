#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_PORTS } from '@rampart/contracts';
import { SCENARIO_NAMES, demoKnownGood, type ScenarioName } from '@rampart/emulator';
import { errorReportDownload, errorReportList, errorReportShow } from './commands/error-reports.js';
import { stability } from './commands/stability.js';
import { imageUpload, parseWaves } from './commands/updates.js';
import { registerImagePacking } from './commands/images.js';
import { apiCall } from './commands/platform-api.js';
import { telemetryQuery } from './commands/telemetry.js';
import { parseDuration } from './duration.js';
import type { OutputFormat } from './output.js';
import type { UpScenario } from '@rampart/embedded';

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive whole number`);
    return n;
  };
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port is 0–65535 (0 picks a free one)');
  return n;
}

/** A port flag with its fixed default and environment variable; commander checks the variable's value as the flag's. */
function portOption(flag: string, variable: string, fallback: number, description: string): Option {
  return new Option(`${flag} <port>`, description).env(variable).argParser(port).default(fallback);
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
}

function duration(value: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** `rampart up`'s scenarios (the names its --scenario takes). */
const UP_SCENARIOS: readonly UpScenario[] = ['telemetry', 'rollout'];

/** Percent waves only: the demo's fleet is small and its plan shown as percents. */
function demoWaves(value: string): number[] {
  const waves = (() => {
    try {
      return parseWaves(value);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  })();
  if (
    waves.kind !== 'percent' ||
    waves.percents.some((p, i) => p <= 0 || p > 100 || (i > 0 && p <= waves.percents[i - 1]!)) ||
    waves.percents.at(-1) !== 100
  )
    throw new InvalidArgumentError('--waves: percents that rise and end at 100, e.g. 10,50,100');
  return waves.percents;
}

const outputOption = () => new Option('--output <format>', 'text or json').choices(['text', 'json']).default('text');
const env = process.env;
/**
 * An API token: from --token, or else RAMPART_TOKEN, read when the command
 * runs. Never a default value: commander prints defaults in --help and after
 * usage errors, and a secret must never be echoed.
 */
const tokenOption = (description: string) => new Option('--token <token>', description).env('RAMPART_TOKEN');

/** The command tree (exported so a test can walk every command's help and usage errors). */
export const program = new Command('rampart').description('Rampart: secure fleets of microcontroller-class devices').showHelpAfterError();

program
  .command('up')
  .description('Start the whole platform in this process (embedded mode)')
  .option('--fleet', 'also run an emulated fleet through the scenario (telemetry unless --scenario says otherwise)', false)
  .addOption(
    new Option(
      '--scenario <name>',
      'telemetry: steady readings, stored and counted; rollout: an OS rolled out in waves, then a crashing app stopped by its gate',
    )
      .choices(UP_SCENARIOS)
      .default('telemetry'),
  )
  .addOption(
    new Option('--waves <percents>', "the rollout scenario's waves, cumulative percents of the fleet")
      .argParser(demoWaves)
      .default([10, 50, 100], '10,50,100'),
  )
  .option('--devices <n>', 'devices in the fleet', positiveInt('--devices'), Number(env['DEVICES'] ?? 100))
  .option('--rate <perSecond>', 'readings per second per device', positiveNumber, Number(env['RATE'] ?? 1))
  .option('--duration <time>', 'how long the fleet publishes (30s, 2m …)', duration, parseDuration(env['DURATION'] ?? '30s'))
  .option('--metrics <n>', 'metrics per reading', positiveInt('--metrics'), 8)
  .option('--once', 'run the scenario, report, and exit (non-zero on any loss)', env['ONCE'] === '1')
  .option('--data-dir <dir>', 'where keys and the embedded database live', env['RAMPART_DATA_DIR'] ?? '.rampart')
  .option('--report <file>', 'where to write the run report (default reports/demo.json, reports/rollout.json for the rollout scenario)')
  // Fixed defaults (0: any free port), each also from an environment variable: the front's port is the one base URL.
  .addOption(portOption('--api-port', 'API_PORT', DEFAULT_PORTS.api, 'the API front: every REST API under /v1, OpenAPI at /docs'))
  .addOption(portOption('--mqtt-port', 'MQTT_PORT', DEFAULT_PORTS.mqtt, 'MQTT over TLS, where devices connect'))
  .addOption(portOption('--telemetry-port', 'TELEMETRY_PORT', DEFAULT_PORTS.telemetry, 'telemetry REST API (behind the front)'))
  .addOption(portOption('--attestation-port', 'ATTESTATION_PORT', DEFAULT_PORTS.attestation, 'attestation REST API (behind the front)'))
  .addOption(portOption('--failures-port', 'FAILURES_PORT', DEFAULT_PORTS.failures, 'failures REST API (behind the front)'))
  .addOption(portOption('--updates-port', 'UPDATES_PORT', DEFAULT_PORTS.updates, 'updates REST API (behind the front)'))
  .addOption(
    portOption('--updates-device-port', 'UPDATES_DEVICE_PORT', DEFAULT_PORTS.updatesDevice, 'update server device endpoint (mutual TLS)'),
  )
  .addOption(portOption('--gateway-http-port', 'GATEWAY_HTTP_PORT', DEFAULT_PORTS.gatewayHttp, 'gateway health and metrics'))
  // The flag's name before the API front, kept for scripts that pass it.
  .addOption(new Option('--attestation-api-port <port>').env('ATTESTATION_API_PORT').argParser(port).hideHelp())
  .addOption(outputOption())
  .action(
    async (o: {
      fleet: boolean;
      devices: number;
      rate: number;
      duration: number;
      metrics: number;
      once: boolean;
      dataDir: string;
      report: string | undefined;
      scenario: UpScenario;
      waves: number[];
      mqttPort: number;
      apiPort: number;
      telemetryPort: number;
      attestationPort: number;
      attestationApiPort: number | undefined;
      failuresPort: number;
      updatesPort: number;
      updatesDevicePort: number;
      gatewayHttpPort: number;
      output: OutputFormat;
    }) => {
      const { up } = await import('@rampart/embedded');
      // The rollout scenario runs its own fleet.
      process.exitCode = await up({
        ...o,
        attestationPort: o.attestationApiPort ?? o.attestationPort,
        fleet: o.fleet || o.scenario === 'rollout',
        durationMs: o.duration,
      });
    },
  );

const fleet = program.command('fleet').description('Emulated device fleets');
fleet
  .command('run')
  .description('Run an emulated fleet against a running gateway')
  .option('--gateway <host:port>', 'the gateway MQTT/TLS endpoint', '127.0.0.1:8883')
  .option('--pki <dir>', 'development PKI folder (manufacturer CA, platform CA)', '.rampart/pki')
  .option('--devices <n>', 'devices', positiveInt('--devices'), 100)
  .option('--rate <perSecond>', 'readings per second per device', positiveNumber, 1)
  .option('--duration <time>', 'how long to publish', duration, 30_000)
  .option('--metrics <n>', 'metrics per reading', positiveInt('--metrics'), 8)
  .option('--api <url>', 'attestation API, to claim the new devices', env['RAMPART_ATTESTATION_API'] ?? 'http://127.0.0.1:8083')
  .addOption(tokenOption("a tenant Administrator token: the fleet's devices are claimed for that tenant"))
  .addOption(new Option('--scenario <name>', 'load scenario').choices([...SCENARIO_NAMES]).default('steady'))
  .option('--report-dir <dir>', 'where fleet-report.json and fleet-report.html are written', 'reports/fleet')
  .addOption(outputOption())
  .action(
    async (o: {
      scenario: ScenarioName;
      reportDir: string;
      gateway: string;
      pki: string;
      devices: number;
      rate: number;
      duration: number;
      metrics: number;
      api: string;
      token: string;
      output: OutputFormat;
    }) => {
      const { fleetRun } = await import('@rampart/embedded');
      process.exitCode = await fleetRun({ ...o, pkiDir: o.pki, durationMs: o.duration });
    },
  );

fleet
  .command('pod')
  .description('Run as an emulator pod: devices configured by the environment (see README, "Emulator pods")')
  .action(async () => {
    const { fleetPod } = await import('@rampart/embedded');
    process.exitCode = await fleetPod(process.env);
  });

program
  .command('pki')
  .description('Development keys and certificates')
  .command('init')
  .description('create (or keep) the development manufacturer CA, platform CA and gateway certificate')
  .option('--dir <dir>', 'where to keep them', `${env['RAMPART_DATA_DIR'] ?? '.rampart'}/pki`)
  .action(async (o: { dir: string }) => {
    const { loadOrCreateDevelopmentPki } = await import('@rampart/trust');
    await loadOrCreateDevelopmentPki(o.dir);
    process.stdout.write(`development PKI in ${o.dir}\n`);
  });

program
  .command('secrets')
  .description("A single host's secrets (docker/compose.yaml)")
  .command('init')
  .description(
    'create (or keep) the key-encryption keys, the platform operator token, the PostgreSQL and Grafana passwords and the development PKI, one file each',
  )
  .requiredOption('--dir <dir>', 'where to keep them (a volume)')
  .option('--database <url>', 'PostgreSQL URL without a password: database-url is it with the generated one')
  .option(
    '--firmware-signing <dir>',
    "also the emulated device maker's firmware signing keys (platform.key, apps.key), in a folder of their own",
  )
  .action(async (o: { dir: string; database?: string; firmwareSigning?: string }) => {
    const { initPlatformSecrets } = await import('@rampart/embedded');
    const { created, kept } = await initPlatformSecrets(o);
    // Names only: a secret's value is never printed.
    process.stdout.write(`secrets in ${o.dir}: created ${created.join(', ') || 'none'}; kept ${kept.join(', ') || 'none'}\n`);
  });

// Tenants, devices, CA certificates and attestation logs: the attestation API.
const apiOptions = (command: Command): Command =>
  command
    .option('--api <url>', 'attestation API', env['RAMPART_ATTESTATION_API'] ?? 'http://127.0.0.1:8083')
    .addOption(tokenOption('API token (tenant token, or the platform operator token)'))
    .addOption(outputOption());
type ApiFlags = { api: string; token: string; output: OutputFormat };

const tenant = program.command('tenant').description('Tenants (platform operator)');
apiOptions(
  tenant
    .command('create <id>')
    .description('create a tenant and its CA; prints its first Administrator token')
    .option('--name <name>', 'display name'),
).action(async (id: string, o: ApiFlags & { name?: string }) => {
  process.exitCode = await apiCall(o, 'POST', '/v1/tenants', { id, name: o.name ?? id });
});
const tenantToken = tenant.command('token').description("your tenant's API tokens (an Administrator's)");
apiOptions(
  tenantToken
    .command('create <role>', { isDefault: true })
    .description('create an API token (Administrator, Contributor or Reader); printed once')
    .option('--expires-in <time>', 'lifetime (1h, 30d …); none: until revoked', duration),
).action(async (role: string, o: ApiFlags & { expiresIn?: number }) => {
  const expiry = o.expiresIn === undefined ? {} : { expiresInSeconds: Math.ceil(o.expiresIn / 1000) };
  process.exitCode = await apiCall(o, 'POST', '/v1/tokens', { role, ...expiry });
});
apiOptions(tenantToken.command('list').description('id, role, created, expiry and revocation of each token (never the token)')).action(
  async (o: ApiFlags) => {
    process.exitCode = await apiCall(o, 'GET', '/v1/tokens');
  },
);
apiOptions(tenantToken.command('revoke <token-id>').description('revoke a token: every service refuses it within seconds')).action(
  async (id: string, o: ApiFlags) => {
    process.exitCode = await apiCall(o, 'POST', `/v1/tokens/${encodeURIComponent(id)}/revoke`);
  },
);

const device = program.command('device').description("Your tenant's devices");
apiOptions(device.command('list').description('list devices')).action(async (o: ApiFlags) => {
  process.exitCode = await apiCall(o, 'GET', '/v1/devices');
});
apiOptions(device.command('show <deviceId>').description('one device')).action(async (id: string, o: ApiFlags) => {
  process.exitCode = await apiCall(o, 'GET', `/v1/devices/${encodeURIComponent(id)}`);
});
apiOptions(device.command('claim <deviceId>').description('claim a device for your tenant (permanent)')).action(
  async (id: string, o: ApiFlags) => {
    process.exitCode = await apiCall(o, 'PUT', `/v1/devices/${encodeURIComponent(id)}/claim`);
  },
);
apiOptions(device.command('revoke <deviceId>').description('revoke a device').requiredOption('--reason <reason>', 'why')).action(
  async (id: string, o: ApiFlags & { reason: string }) => {
    process.exitCode = await apiCall(o, 'POST', `/v1/devices/${encodeURIComponent(id)}/revoke`, { reason: o.reason });
  },
);
apiOptions(device.command('unrevoke <deviceId>').description('lift a revocation')).action(async (id: string, o: ApiFlags) => {
  process.exitCode = await apiCall(o, 'POST', `/v1/devices/${encodeURIComponent(id)}/unrevoke`);
});

const caCertificate = program.command('ca-certificate').description("Your tenant's CA certificates");
apiOptions(caCertificate.command('list').description('current and next tenant CA, and the platform root')).action(async (o: ApiFlags) => {
  process.exitCode = await apiCall(o, 'GET', '/v1/ca-certificates');
});

apiOptions(
  caCertificate.command('rotate').description('make the successor tenant CA the issuing one (creating it first if needed)'),
).action(async (o: ApiFlags) => {
  process.exitCode = await apiCall(o, 'POST', '/v1/ca-certificates/rotate');
});
caCertificate
  .command('download <tenantId>')
  .description("write the tenant's trust bundle (current and next CA, platform root) as PEM")
  .option('--api <url>', 'attestation API', env['RAMPART_ATTESTATION_API'] ?? 'http://127.0.0.1:8083')
  .option('--out <file>', 'file to write (default: standard output)')
  .action(async (tenantId: string, o: { api: string; out?: string }) => {
    const response = await fetch(`${o.api.replace(/\/$/, '')}/v1/tenants/${encodeURIComponent(tenantId)}/trust-bundle`);
    const body = await response.text();
    if (!response.ok) {
      process.stderr.write(`${response.status} ${body}\n`);
      process.exitCode = 1;
      return;
    }
    if (o.out === undefined) process.stdout.write(body);
    else await writeFile(o.out, body);
  });

const attestationCommand = program.command('attestation').description('Attestation');
apiOptions(attestationCommand.command('log').description('verdicts, newest first')).action(async (o: ApiFlags) => {
  process.exitCode = await apiCall(o, 'GET', '/v1/attestations');
});

// Failure reports: the failures API.
const errorReportOptions = (command: Command): Command =>
  command
    .option('--api <url>', 'failures API', env['RAMPART_FAILURES_API'] ?? 'http://127.0.0.1:8084')
    .addOption(tokenOption('a tenant API token'))
    .option('--from <time>', 'from (ISO 8601)')
    .option('--to <time>', 'until (ISO 8601)')
    .option('--device <id>', 'one device')
    .option('--bucket <signature>', 'one bucket')
    .option('--version <version>', 'one component version')
    .addOption(outputOption());
type ErrorReportFlags = ApiFlags & { from?: string; to?: string; device?: string; bucket?: string; version?: string };
const errorReport = program.command('error-report').description('Failure reports and their buckets (your tenant)');
errorReportOptions(errorReport.command('list').description('buckets: what fails, how often, on how many devices')).action(
  async (o: ErrorReportFlags) => {
    process.exitCode = await errorReportList(o);
  },
);
errorReportOptions(errorReport.command('show <bucket>').description('one bucket and its latest reports')).action(
  async (signature: string, o: ErrorReportFlags) => {
    process.exitCode = await errorReportShow(o, signature);
  },
);
errorReportOptions(
  errorReport
    .command('download')
    .description('every matching report (no event or day cap)')
    .addOption(new Option('--format <format>', 'csv or json').choices(['csv', 'json']).default('csv'))
    .option('--file <path>', 'write here instead of stdout'),
).action(async (o: ErrorReportFlags & { format: 'csv' | 'json'; file?: string }) => {
  process.exitCode = await errorReportDownload(o);
});

// Updates: images, products, device groups, deployments (the updates API).
const updatesOptions = (command: Command): Command =>
  command
    .option('--api <url>', 'updates API', env['RAMPART_UPDATES_API'] ?? 'http://127.0.0.1:8085')
    .addOption(tokenOption('a tenant API token'))
    .addOption(outputOption());

const image = program.command('image').description('Signed OS and app images (your tenant)');
updatesOptions(image.command('upload <file>').description('upload a signed image (.rimg)')).action(async (file: string, o: ApiFlags) => {
  process.exitCode = await imageUpload(o, file);
});
updatesOptions(
  image
    .command('list')
    .description('images, newest first')
    .option('--component <component>', 'one component')
    .option('--status <status>', 'uploaded, released or revoked'),
).action(async (o: ApiFlags & { component?: string; status?: string }) => {
  const query = new URLSearchParams({
    ...(o.component ? { component: o.component } : {}),
    ...(o.status ? { status: o.status } : {}),
  }).toString();
  process.exitCode = await apiCall(o, 'GET', `/v1/images${query === '' ? '' : `?${query}`}`);
});
updatesOptions(
  image
    .command('release <sha256>')
    .description('sign it into the targets and announce it; --feed also puts an OS image on an OS feed')
    .addOption(new Option('--feed <feed>', 'OS feed (retail-eval first, then retail)').choices(['retail', 'retail-eval'])),
).action(async (sha256: string, o: ApiFlags & { feed?: string }) => {
  process.exitCode = await apiCall(o, 'POST', `/v1/images/${sha256}/release`, o.feed === undefined ? undefined : { osFeed: o.feed });
});
updatesOptions(image.command('revoke <sha256>').description('take it out of every answer')).action(async (sha256: string, o: ApiFlags) => {
  process.exitCode = await apiCall(o, 'POST', `/v1/images/${sha256}/revoke`);
});

registerImagePacking(program);

const product = program.command('product').description('Products (each with Development, Field Test and Production groups)');
updatesOptions(product.command('create <name>').description('create a product').option('--description <text>', 'description')).action(
  async (name: string, o: ApiFlags & { description?: string }) => {
    process.exitCode = await apiCall(o, 'POST', '/v1/products', { name, description: o.description ?? '' });
  },
);
updatesOptions(product.command('list').description('products')).action(async (o: ApiFlags) => {
  process.exitCode = await apiCall(o, 'GET', '/v1/products');
});

const deviceGroup = program.command('device-group').description('Device groups: update policy, OS feed, maintenance window, members');
updatesOptions(
  deviceGroup
    .command('create <product-id> <name>')
    .description('create a group')
    .addOption(new Option('--policy <policy>', 'update policy').choices(['all', 'no-app-updates', 'none']).default('all'))
    .addOption(new Option('--feed <feed>', 'OS feed').choices(['retail', 'retail-eval']).default('retail')),
).action(async (productId: string, name: string, o: ApiFlags & { policy: string; feed: string }) => {
  process.exitCode = await apiCall(o, 'POST', '/v1/device-groups', { productId, name, updatePolicy: o.policy, osFeed: o.feed });
});
updatesOptions(deviceGroup.command('list').description('groups').option('--product <id>', 'one product')).action(
  async (o: ApiFlags & { product?: string }) => {
    process.exitCode = await apiCall(o, 'GET', `/v1/device-groups${o.product ? `?productId=${o.product}` : ''}`);
  },
);
updatesOptions(
  deviceGroup
    .command('update <group-id>')
    .description('change the policy, feed or maintenance window')
    .addOption(new Option('--policy <policy>', 'update policy').choices(['all', 'no-app-updates', 'none']))
    .addOption(new Option('--feed <feed>', 'OS feed').choices(['retail', 'retail-eval']))
    .option('--window <start-end>', 'daily maintenance window in UTC hours, e.g. 2-5; "any" for none'),
).action(async (groupId: string, o: ApiFlags & { policy?: string; feed?: string; window?: string }) => {
  const window =
    o.window === undefined
      ? undefined
      : o.window === 'any'
        ? null
        : (() => {
            const [start, end] = o.window.split('-').map(Number);
            return { startHour: start, endHour: end };
          })();
  process.exitCode = await apiCall(o, 'PATCH', `/v1/device-groups/${groupId}`, {
    ...(o.policy ? { updatePolicy: o.policy } : {}),
    ...(o.feed ? { osFeed: o.feed } : {}),
    ...(window === undefined ? {} : { window }),
  });
});
updatesOptions(deviceGroup.command('assign <group-id> <device-id>').description('move a claimed device into the group')).action(
  async (groupId: string, deviceId: string, o: ApiFlags) => {
    process.exitCode = await apiCall(o, 'PUT', `/v1/device-groups/${groupId}/devices/${deviceId}`);
  },
);

const deployment = program.command('deployment').description('Deployments: image sets rolled out to a group in health-gated waves');
updatesOptions(
  deployment
    .command('create <group-id> <sha256...>')
    .description('deploy released images to a group')
    .option('--waves <waves>', 'cumulative percents (1,10,100) or exp:<first>x<factor>', '100')
    .option('--soak <minutes>', 'wait after each wave', '0')
    .option(
      '--abort <type:min:percent>',
      'abort when percent of at least min finished devices failed (type FAILED, TIMED_OUT or ALL)',
      'ALL:10:20',
    )
    .option('--timeout <minutes>', 'per-device answer timeout', '60')
    .option('--retries <n>', 'offers before a silent device is timed out', '1'),
).action(
  async (
    groupId: string,
    images: string[],
    o: ApiFlags & { waves: string; soak: string; abort: string; timeout: string; retries: string },
  ) => {
    const [failureType, minExecuted, thresholdPercentage] = o.abort.split(':');
    process.exitCode = await apiCall(o, 'POST', '/v1/deployments', {
      groupId,
      images,
      rollout: {
        waves: parseWaves(o.waves),
        soakMinutes: Number(o.soak),
        abort: [{ failureType, minExecuted: Number(minExecuted), thresholdPercentage: Number(thresholdPercentage) }],
        deviceTimeoutMinutes: Number(o.timeout),
        retries: Number(o.retries),
      },
    });
  },
);
updatesOptions(deployment.command('list <group-id>').description("a group's deployments, newest first")).action(
  async (groupId: string, o: ApiFlags) => {
    process.exitCode = await apiCall(o, 'GET', `/v1/deployments?groupId=${groupId}`);
  },
);
updatesOptions(deployment.command('status <deployment-id>').description('waves, gates and every device state')).action(
  async (id: string, o: ApiFlags) => {
    process.exitCode = await apiCall(o, 'GET', `/v1/deployments/${id}`);
  },
);
for (const action of ['pause', 'resume', 'abort', 'rollback'] as const) {
  updatesOptions(
    deployment.command(`${action} <deployment-id>`).description(`${action} by hand`).option('--reason <text>', 'why', 'by hand'),
  ).action(async (id: string, o: ApiFlags & { reason: string }) => {
    process.exitCode = await apiCall(o, 'POST', `/v1/deployments/${id}/${action}`, { reason: o.reason });
  });
}

program
  .command('stability <component>')
  .description('crash-free devices and crash-free hours per version of a component, e.g. app:sensor or os (your tenant)')
  .option('--api <url>', 'failures API', env['RAMPART_FAILURES_API'] ?? 'http://127.0.0.1:8084')
  .addOption(tokenOption('a tenant API token'))
  .option('--version <versions>', 'only these versions (comma-separated)')
  .option('--from <time>', 'from (ISO 8601; default 7 days ago)')
  .option('--to <time>', 'until (ISO 8601; default now)')
  .addOption(outputOption())
  .action(async (component: string, o: ApiFlags & { version?: string; from?: string; to?: string }) => {
    process.exitCode = await stability(o, component);
  });

const measurement = program.command('measurement').description('Known-good boot measurements (platform operator)');
apiOptions(
  measurement
    .command('release <stage> <sha256>')
    .description('mark a measurement known-good')
    .option('--image-version <version>', 'image version'),
).action(async (stage: string, sha256: string, o: ApiFlags & { imageVersion?: string }) => {
  process.exitCode = await apiCall(o, 'PUT', '/v1/measurements', {
    stage,
    sha256,
    status: 'released',
    ...(o.imageVersion ? { imageVersion: o.imageVersion } : {}),
  });
});
apiOptions(measurement.command('revoke <stage> <sha256>').description('revoke a measurement')).action(
  async (stage: string, sha256: string, o: ApiFlags) => {
    process.exitCode = await apiCall(o, 'PUT', '/v1/measurements', { stage, sha256, status: 'revoked' });
  },
);
apiOptions(measurement.command('release-demo-images').description('mark the emulator image set known-good')).action(async (o: ApiFlags) => {
  for (const image of demoKnownGood()) {
    const code = await apiCall({ ...o, output: 'json' }, 'PUT', '/v1/measurements', {
      stage: image.stage,
      sha256: image.sha256,
      status: 'released',
      imageVersion: image.imageVersion,
    });
    if (code !== 0) {
      process.exitCode = code;
      return;
    }
  }
});

const telemetry = program
  .command('telemetry')
  .description("Query your tenant's stored telemetry")
  .option('--api <url>', 'telemetry API', env['RAMPART_API'] ?? 'http://127.0.0.1:8081')
  .addOption(tokenOption('a tenant API token'));
const api = (): { url: string; token: string | undefined } => {
  const o = telemetry.opts<{ api: string; token?: string }>();
  return { url: o.api, token: o.token };
};
telemetry
  .command('latest <deviceId>')
  .description('newest value of each metric of a device')
  .addOption(outputOption())
  .action(async (deviceId: string, o: { output: OutputFormat }) => {
    process.exitCode = await telemetryQuery(api(), `/v1/devices/${encodeURIComponent(deviceId)}/telemetry/latest`, o.output);
  });
telemetry
  .command('range <deviceId> <metric>')
  .description('values of one metric in a time range')
  .option('--from <time>', 'epoch ms or ISO 8601')
  .option('--to <time>', 'epoch ms or ISO 8601')
  .addOption(outputOption())
  .action(async (deviceId: string, metric: string, o: { from?: string; to?: string; output: OutputFormat }) => {
    const q = new URLSearchParams({ metric, ...(o.from ? { from: o.from } : {}), ...(o.to ? { to: o.to } : {}) });
    process.exitCode = await telemetryQuery(api(), `/v1/devices/${encodeURIComponent(deviceId)}/telemetry?${q}`, o.output);
  });
telemetry
  .command('devices')
  .description('devices by last seen')
  .addOption(outputOption())
  .action(async (o: { output: OutputFormat }) => {
    process.exitCode = await telemetryQuery(api(), '/v1/telemetry/devices', o.output);
  });
telemetry
  .command('aggregate <metric>')
  .description('fleet aggregate of a metric')
  .option('--bucket <seconds>', 'bucket width in seconds', '60')
  .addOption(outputOption())
  .action(async (metric: string, o: { bucket: string; output: OutputFormat }) => {
    process.exitCode = await telemetryQuery(
      api(),
      `/v1/telemetry/aggregate?${new URLSearchParams({ metric, bucketSeconds: o.bucket })}`,
      o.output,
    );
  });
telemetry
  .command('stats')
  .description('what has been stored')
  .addOption(outputOption())
  .action(async (o: { output: OutputFormat }) => {
    process.exitCode = await telemetryQuery(api(), '/v1/telemetry/stats', o.output);
  });

/** Run as the `rampart` command (through any symlink), not when imported. */
const entry = process.argv[1];
if (entry !== undefined && realpathSync(entry) === fileURLToPath(import.meta.url)) {
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    process.stderr.write(`rampart: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}
