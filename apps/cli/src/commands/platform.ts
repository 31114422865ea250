import { InvalidArgumentError, Option, type Command } from 'commander';
import { configPath, readConfig } from '../config/config-file.js';
import { NotLoggedInError, resolveConnection, type ConnectionFlags } from '../config/connection.js';
import { duration, port, positiveInt, positiveNumber, wholeNumber } from '../options.js';
// The ports alone (no schemas): the contracts index builds every zod schema, half a second the CLI must not pay.
import { DEFAULT_PORTS } from '@rampart/contracts/ports';
import { parseWaves } from '../waves.js';
// The scenario names alone (no imports): the embedded package itself loads only when `up` runs.
import { UP_SCENARIOS, type UpScenario } from '@rampart/embedded/up-scenarios';

/** A port flag with its fixed default and environment variable; commander checks the variable's value as the flag's. */
function portOption(flag: string, variable: string, fallback: number, description: string): Option {
  return new Option(`${flag} <port>`, description).env(variable).argParser(port).default(fallback);
}

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

// The commands that run platform or fleet code in this process: each loads it with import() in its action, so
// `rampart --help` and every API command start without it.

/** The embedded platform's and fleet's report formats (their own, not the API tables'). */
const reportOutput = (): Option => new Option('-o, --output <format>', 'report format').choices(['text', 'json']).default('text');

export function registerPlatform(program: Command): void {
  const env = process.env;
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
    // Environment defaults through commander's .env(): the value is parsed by the option's own parser only when `up`
    // runs, and a bad one is refused naming the variable; never while the command tree is built (that broke every
    // command, `rampart --help` included, for a bad DURATION).
    .addOption(new Option('--devices <n>', 'devices in the fleet').env('DEVICES').argParser(positiveInt).default(100))
    .addOption(new Option('--rate <perSecond>', 'readings per second per device').env('RATE').argParser(positiveNumber).default(1))
    .addOption(
      new Option('--duration <time>', 'how long the fleet publishes (30s, 2m …)')
        .env('DURATION')
        .argParser(duration)
        .default(30_000, '30s'),
    )
    .option('--metrics <n>', 'metrics per reading', positiveInt, 8)
    .option('--once', 'run the scenario, report, and exit (non-zero on any loss)', env['ONCE'] === '1')
    .option('--data-dir <dir>', 'where keys and the embedded database live', env['RAMPART_DATA_DIR'] ?? '.rampart')
    .addOption(
      new Option(
        '--keys <provider>',
        'where the CA keys live: software (sealed in the database) or pkcs11 (DEVELOPMENT: a SoftHSM2 token under the data dir, three-tier CA from a development ceremony; needs softhsm2)',
      )
        .choices(['software', 'pkcs11'])
        .default('software'),
    )
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
    .addOption(reportOutput())
    .action(
      async (o: {
        fleet: boolean;
        devices: number;
        rate: number;
        duration: number;
        metrics: number;
        once: boolean;
        dataDir: string;
        keys: 'software' | 'pkcs11';
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
        output: 'text' | 'json';
      }) => {
        const { up } = await import('@rampart/embedded');
        process.exitCode = await up({
          ...o,
          attestationPort: o.attestationApiPort ?? o.attestationPort,
          // The rollout scenario runs its own fleet.
          fleet: o.fleet || o.scenario === 'rollout',
          durationMs: o.duration,
        });
      },
    );

  const fleet = program.command('fleet').description('Emulated device fleets');
  fleet
    .command('run')
    .description("Run an emulated fleet against a running gateway (its devices are claimed for the context's tenant)")
    .option('--gateway <host:port>', 'the gateway MQTT/TLS endpoint', '127.0.0.1:8883')
    .option('--pki <dir>', 'development PKI folder (manufacturer CA, platform CA)', '.rampart/pki')
    .option('--devices <n>', 'devices', positiveInt, 100)
    .option(
      '--tpm-devices <n>',
      'of those, devices with a TPM 2.0 (swtpm and tpm2-tools; the attestation service trusts <pki>/tpm-vendor-ca.crt in TPM_VENDOR_CA_FILE)',
      wholeNumber,
      0,
    )
    .option('--rate <perSecond>', 'readings per second per device', positiveNumber, 1)
    .option('--duration <time>', 'how long to publish', duration, 30_000)
    .option('--metrics <n>', 'metrics per reading', positiveInt, 8)
    // Checked in the action against the emulator's own list: reading it here would load the emulator for --help.
    .option('--scenario <name>', 'load scenario (steady by default; a wrong name is refused with the list)', 'steady')
    .option('--report-dir <dir>', 'where fleet-report.json and fleet-report.html are written', 'reports/fleet')
    .addOption(reportOutput())
    .action(async (o: FleetFlags, command: Command) => {
      const { SCENARIO_NAMES } = await import('@rampart/emulator');
      if (!(SCENARIO_NAMES as readonly string[]).includes(o.scenario))
        command.error(
          `error: option '--scenario <name>' argument '${o.scenario}' is invalid. Allowed choices are ${SCENARIO_NAMES.join(', ')}.`,
        );
      const claim = await claimingConnection(command.optsWithGlobals<ConnectionFlags>());
      const { fleetRun } = await import('@rampart/embedded');
      process.exitCode = await fleetRun({
        ...o,
        scenario: o.scenario as (typeof SCENARIO_NAMES)[number],
        api: claim?.api ?? '',
        token: claim?.token,
        pkiDir: o.pki,
        durationMs: o.duration,
      });
    });

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
    .description('create (or keep) the development manufacturer CA, TPM vendor CA, platform CA and gateway certificate')
    .option('--dir <dir>', 'where to keep them', `${env['RAMPART_DATA_DIR'] ?? '.rampart'}/pki`)
    .action(async (o: { dir: string }) => {
      const { loadOrCreateDevelopmentPki } = await import('@rampart/trust');
      await loadOrCreateDevelopmentPki(o.dir);
      process.stdout.write(`development PKI in ${o.dir}\n`);
    });

  const secrets = program.command('secrets').description("A single host's secrets (docker/compose.yaml)");
  secrets
    .command('dev-keys')
    .description(
      'DEVELOPMENT: a SoftHSM2 token (made or found) and the three-tier platform CA from a development ceremony: root.pem, issuing.pem, root.crl (docker/compose.pkcs11.yaml)',
    )
    .requiredOption(
      '--dir <dir>',
      "where the token, its PIN file and the platform CA's files are kept (a volume the signing services mount)",
    )
    .requiredOption(
      '--offline-dir <dir>',
      "where the development root's encrypted key and passphrase are kept (a volume no service mounts)",
    )
    .option(
      '--public-dir <dir>',
      "where the platform CA's certificates and the root's CRL are written (a volume the gateway mounts without the token); default: platform-ca under --dir",
    )
    .option('--root-crl-url <url>', "where the root's CRL is published (the issuing CA certificate's CRL distribution point)")
    .action(async (o: { dir: string; offlineDir: string; publicDir?: string; rootCrlUrl?: string }) => {
      const { prepareDevelopmentKeys } = await import('@rampart/embedded');
      const keys = await prepareDevelopmentKeys(o.dir, {
        offlineDir: o.offlineDir,
        ...(o.publicDir === undefined ? {} : { platformCaDir: o.publicDir }),
        ...(o.rootCrlUrl === undefined ? {} : { rootCrlUrl: o.rootCrlUrl }),
      });
      process.stdout.write(
        `development token ${JSON.stringify(keys.token.tokenLabel)} ${keys.token.created ? 'made' : 'kept'} in ${keys.token.tokenDir}; ` +
          `issuing CA ${keys.platformCa.issued ? 'signed' : 'kept'}: ${keys.platformCa.issuingCertFile}\n`,
      );
    });
  secrets
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
}

interface FleetFlags {
  scenario: string;
  reportDir: string;
  gateway: string;
  pki: string;
  devices: number;
  tpmDevices: number;
  rate: number;
  duration: number;
  metrics: number;
  output: 'text' | 'json';
}

/** The API and token the fleet claims its devices with; none when not logged in (the fleet says what that means). */
async function claimingConnection(flags: ConnectionFlags): Promise<{ api: string; token: string } | undefined> {
  try {
    return resolveConnection(flags, process.env, await readConfig(configPath()));
  } catch (error) {
    if (error instanceof NotLoggedInError) return undefined;
    throw error;
  }
}
