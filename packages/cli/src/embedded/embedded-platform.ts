import { join } from 'node:path';
import { startGateway, loadGatewayConfig, type RunningGateway } from '@rampart/gateway';
import { InProcessBus, NatsBus, type Logger, type MessageBus } from '@rampart/service-kit';
import { startTelemetry, loadTelemetryConfig, type RunningTelemetry } from '@rampart/telemetry';
import { loadOrCreateDevelopmentPki, type DevelopmentPki } from '@rampart/trust';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './embedded-database.js';

export interface EmbeddedOptions {
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly natsUrl: string | undefined;
  readonly busPrefix: string;
  readonly mqttPort: number;
  readonly apiPort: number;
  readonly gatewayHttpPort: number;
  readonly devListenerPort: number | undefined;
  /** Gateway limits tuned for a demo fleet on one machine. */
  readonly deviceRatePerSec: number;
}

export interface EmbeddedPlatform {
  readonly pki: DevelopmentPki;
  readonly pkiDir: string;
  readonly gateway: RunningGateway;
  readonly telemetry: RunningTelemetry;
  readonly database: { readonly url: string; readonly embedded: boolean };
  readonly bus: MessageBus;
  close(): Promise<void>;
}

/**
 * Every service in one process: the gateway (Aedes), the telemetry service,
 * PostgreSQL (PGlite over the wire protocol, unless a URL is given) and the
 * bus (NATS when a URL is given, the in-process bus otherwise).
 */
export async function startEmbeddedPlatform(options: EmbeddedOptions, loggerFor: (service: string) => Logger): Promise<EmbeddedPlatform> {
  const pkiDir = join(options.dataDir, 'pki');
  const pki = await loadOrCreateDevelopmentPki(pkiDir);
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.splice(0).reverse()) await close();
  };
  try {
    let database: EmbeddedDatabase | undefined;
    let databaseUrl = options.databaseUrl;
    if (databaseUrl === undefined) {
      database = await startEmbeddedDatabase(join(options.dataDir, 'pgdata'));
      databaseUrl = database.url;
      const db = database;
      closers.push(() => db.close());
    }
    const bus: MessageBus =
      options.natsUrl === undefined
        ? new InProcessBus(options.busPrefix)
        : await NatsBus.connect({
            url: options.natsUrl,
            prefix: options.busPrefix,
            name: 'rampart-embedded',
            onError: (error) => loggerFor('bus').error({ err: error }, 'bus handler failed'),
          });
    closers.push(() => bus.drain());
    const common = { HTTP_HOST: '127.0.0.1', BUS_PREFIX: options.busPrefix, LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn' };
    const telemetry = await startTelemetry(
      loadTelemetryConfig({ ...common, HTTP_PORT: String(options.apiPort), DATABASE_URL: databaseUrl }),
      loggerFor('telemetry'),
      bus,
    );
    closers.push(() => telemetry.close());
    const gateway = await startGateway(
      loadGatewayConfig({
        ...common,
        HTTP_PORT: String(options.gatewayHttpPort),
        MQTT_HOST: '127.0.0.1',
        MQTT_PORT: String(options.mqttPort),
        TLS_CERT_FILE: join(pkiDir, 'gateway.crt'),
        TLS_KEY_FILE: join(pkiDir, 'gateway.key'),
        MANUFACTURER_CA_FILE: join(pkiDir, 'manufacturer-ca.crt'),
        DEVICE_RATE_PER_SEC: String(options.deviceRatePerSec),
        ...(options.devListenerPort === undefined ? {} : { DEV_LISTENER_PORT: String(options.devListenerPort) }),
      }),
      loggerFor('gateway'),
      bus,
    );
    closers.push(() => gateway.close());
    return {
      pki,
      pkiDir,
      gateway,
      telemetry,
      bus,
      database: { url: databaseUrl, embedded: database !== undefined },
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
