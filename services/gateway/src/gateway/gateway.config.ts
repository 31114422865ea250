import { isIP } from 'node:net';
import { z } from 'zod';
import { DEFAULT_PORTS } from '@rampart/contracts/ports';
import { MAX_READINGS_PER_BATCH, Stream } from '@rampart/contracts';
import {
  commonConfig,
  commonEnvShape,
  buildConfig,
  env,
  loadConfig,
  withBusChoice,
  type CommonConfig,
  type ConfigInput,
  type Env,
} from '@rampart/service-kit';
import type { AttestationLimits } from './attestation-gate.js';
import type { TelemetryStreamSettings } from './telemetry-stream.js';

export const DEFAULT_MQTT_PORT = DEFAULT_PORTS.mqtt;
export const DEFAULT_HTTP_PORT = DEFAULT_PORTS.gatewayHttp;
/** Device packets are small; 16 KiB leaves room for a crash dump excerpt. */
export const DEFAULT_MAX_PACKET_BYTES = 16 * 1024;
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_CONNECTIONS = 50_000;
/**
 * Sockets still in the TLS handshake, out of MAX_CONNECTIONS: anyone can
 * open one without a certificate, so they may not take every slot. A
 * handshake takes milliseconds; this leaves room for a reconnect storm.
 */
export const DEFAULT_MAX_HANDSHAKING = 4_096;
export const DEFAULT_DEVICE_RATE_PER_SEC = 20;
export const DEFAULT_DEVICE_RATE_BURST = 100;
/**
 * Attestation messages per device identity: an attestation is two (nonce,
 * evidence) and a device attests daily and after each update, so 12 a
 * minute with a burst of 10 leaves room for retries while one identity can
 * no longer fill the attestation service's queue.
 */
export const DEFAULT_ATTEST_RATE_PER_MIN = 12;
export const DEFAULT_ATTEST_BURST = 10;
/** Attestation requests in flight to the service from one gateway, and waiting for a slot. */
export const DEFAULT_ATTEST_MAX_IN_FLIGHT = 256;
export const DEFAULT_ATTEST_MAX_WAITING = 1_024;
/** How long an attestation request may take before the device is told TIMEOUT and the work is dropped. */
export const DEFAULT_ATTEST_TIMEOUT_MS = 10_000;
/** Readings whose batch is being stored; the stream round trip, not CPU, is what this covers. */
export const DEFAULT_BRIDGE_MAX_IN_FLIGHT = 8_192;
export const DEFAULT_BRIDGE_MAX_WAITING = 8_192;
export const DEFAULT_BRIDGE_BATCH_MAX_READINGS = 256;
export const DEFAULT_BRIDGE_BATCH_MAX_DELAY_MS = 2;
/** The TELEMETRY stream's limits: the gateway owns the stream, and the contract holds its defaults. */
export const DEFAULT_STREAM_MAX_AGE_MS = Stream.telemetry.maxAgeMs;
export const DEFAULT_DUPLICATE_WINDOW_MS = Stream.telemetry.duplicateWindowMs;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

const gatewayEnvObject = z
  .object({
    ...commonEnvShape,
    HTTP_PORT: env.port().default(DEFAULT_HTTP_PORT),
    MQTT_HOST: z.string().min(1).default('0.0.0.0'),
    MQTT_PORT: env.port().default(DEFAULT_MQTT_PORT),
    TLS_CERT_FILE: z.string().min(1, 'path to the gateway TLS certificate (PEM)'),
    TLS_KEY_FILE: z.string().min(1, 'path to the gateway TLS private key (PEM)'),
    MANUFACTURER_CA_FILE: z.string().min(1, 'path to the trusted manufacturer CA certificates (PEM)'),
    PLATFORM_CA_FILE: z.string().min(1, 'path to the platform root CA certificate (PEM) that operational device certificates chain to'),
    /** Tenants whose devices this gateway serves (comma-separated); unset serves every tenant. */
    ALLOWED_TENANTS: z
      .string()
      .optional()
      .transform((v) => (v === undefined ? undefined : v.split(',').map((t) => t.trim())))
      .refine((v) => v === undefined || v.every((t) => /^[a-z0-9][a-z0-9-]{1,62}$/.test(t)), 'comma-separated tenant ids'),
    DEV_LISTENER_PORT: env.port().optional(),
    DEV_LISTENER_HOST: z.string().refine(isLoopback, 'the development listener binds only to loopback').default('127.0.0.1'),
    MAX_PACKET_BYTES: env
      .positiveInt()
      .max(256 * 1024 * 1024)
      .default(DEFAULT_MAX_PACKET_BYTES),
    CONNECT_TIMEOUT_MS: env.milliseconds().default(DEFAULT_CONNECT_TIMEOUT_MS),
    MAX_CONNECTIONS: env.positiveInt().default(DEFAULT_MAX_CONNECTIONS),
    MAX_HANDSHAKING: env.positiveInt().optional(),
    DEVICE_RATE_PER_SEC: env.positiveInt().default(DEFAULT_DEVICE_RATE_PER_SEC),
    DEVICE_RATE_BURST: env.positiveInt().default(DEFAULT_DEVICE_RATE_BURST),
    ATTEST_RATE_PER_MIN: env.positiveInt().default(DEFAULT_ATTEST_RATE_PER_MIN),
    ATTEST_BURST: env.positiveInt().default(DEFAULT_ATTEST_BURST),
    ATTEST_MAX_IN_FLIGHT: env.positiveInt().default(DEFAULT_ATTEST_MAX_IN_FLIGHT),
    ATTEST_MAX_WAITING: env.positiveInt().default(DEFAULT_ATTEST_MAX_WAITING),
    ATTEST_TIMEOUT_MS: env.milliseconds().max(60_000).default(DEFAULT_ATTEST_TIMEOUT_MS),
    BRIDGE_MAX_IN_FLIGHT: env.positiveInt().default(DEFAULT_BRIDGE_MAX_IN_FLIGHT),
    BRIDGE_MAX_WAITING: env.positiveInt().default(DEFAULT_BRIDGE_MAX_WAITING),
    BRIDGE_BATCH_MAX_READINGS: env.positiveInt().max(MAX_READINGS_PER_BATCH).default(DEFAULT_BRIDGE_BATCH_MAX_READINGS),
    BRIDGE_BATCH_MAX_DELAY_MS: z.coerce.number().int().min(0).max(1_000).default(DEFAULT_BRIDGE_BATCH_MAX_DELAY_MS),
    TELEMETRY_STREAM_MAX_AGE_MS: env.milliseconds().default(DEFAULT_STREAM_MAX_AGE_MS),
    TELEMETRY_DUPLICATE_WINDOW_MS: env.milliseconds().default(DEFAULT_DUPLICATE_WINDOW_MS),
  })
  .refine((e) => e.MAX_HANDSHAKING === undefined || e.MAX_HANDSHAKING <= e.MAX_CONNECTIONS, {
    message: 'MAX_HANDSHAKING must not exceed MAX_CONNECTIONS (handshaking sockets are part of the connection cap)',
    path: ['MAX_HANDSHAKING'],
  });

export const gatewayEnvSchema = withBusChoice(gatewayEnvObject);

/** Limits that protect the gateway from hostile or runaway devices. */
export interface GatewayLimits {
  readonly maxPacketBytes: number;
  readonly connectTimeoutMs: number;
  /** Every open socket, from the TCP accept on (pre-handshake ones included). */
  readonly maxConnections: number;
  /** Of those, sockets that have not finished the TLS handshake. */
  readonly maxHandshaking: number;
  readonly deviceRatePerSec: number;
  readonly deviceRateBurst: number;
  readonly bridgeMaxInFlight: number;
  readonly bridgeMaxWaiting: number;
  readonly attestation: AttestationLimits;
}

export interface GatewayConfig extends CommonConfig {
  readonly mqtt: {
    readonly host: string;
    readonly port: number;
    readonly tlsCertFile: string;
    readonly tlsKeyFile: string;
    readonly manufacturerCaFile: string;
    readonly platformCaFile: string;
    /** Undefined: every tenant. */
    readonly allowedTenants: readonly string[] | undefined;
  };
  /** Plain-TCP listener with an open identity policy, for debugging only. */
  readonly devListener: { readonly host: string; readonly port: number } | undefined;
  readonly limits: GatewayLimits;
  readonly telemetryStream: TelemetryStreamSettings;
}

/** The typed values `gatewayConfig` takes: the environment's keys, numbers as numbers. */
export type GatewayConfigInput = ConfigInput<typeof gatewayEnvSchema>;

/** Reads the process environment (or an env-shaped record): strings, `<KEY>_FILE` secrets. */
export function loadGatewayConfig(source: Env): GatewayConfig {
  return toGatewayConfig(loadConfig('gateway', gatewayEnvSchema, source));
}

/** Builds the configuration from typed values (a composition in code); the same schema, defaults and ConfigError as loadGatewayConfig. */
export function gatewayConfig(input: GatewayConfigInput): GatewayConfig {
  return toGatewayConfig(buildConfig('gateway', gatewayEnvSchema, input));
}

function toGatewayConfig(e: z.output<typeof gatewayEnvSchema>): GatewayConfig {
  return {
    ...commonConfig(e),
    mqtt: {
      host: e.MQTT_HOST,
      port: e.MQTT_PORT,
      tlsCertFile: e.TLS_CERT_FILE,
      tlsKeyFile: e.TLS_KEY_FILE,
      manufacturerCaFile: e.MANUFACTURER_CA_FILE,
      platformCaFile: e.PLATFORM_CA_FILE,
      allowedTenants: e.ALLOWED_TENANTS,
    },
    devListener: e.DEV_LISTENER_PORT === undefined ? undefined : { host: e.DEV_LISTENER_HOST, port: e.DEV_LISTENER_PORT },
    limits: {
      maxPacketBytes: e.MAX_PACKET_BYTES,
      connectTimeoutMs: e.CONNECT_TIMEOUT_MS,
      maxConnections: e.MAX_CONNECTIONS,
      // The default shrinks with a small MAX_CONNECTIONS; a value set explicitly was checked above.
      maxHandshaking: e.MAX_HANDSHAKING ?? Math.min(DEFAULT_MAX_HANDSHAKING, e.MAX_CONNECTIONS),
      deviceRatePerSec: e.DEVICE_RATE_PER_SEC,
      deviceRateBurst: e.DEVICE_RATE_BURST,
      bridgeMaxInFlight: e.BRIDGE_MAX_IN_FLIGHT,
      bridgeMaxWaiting: e.BRIDGE_MAX_WAITING,
      attestation: {
        ratePerMinute: e.ATTEST_RATE_PER_MIN,
        burst: e.ATTEST_BURST,
        maxInFlight: e.ATTEST_MAX_IN_FLIGHT,
        maxWaiting: e.ATTEST_MAX_WAITING,
        timeoutMs: e.ATTEST_TIMEOUT_MS,
      },
    },
    telemetryStream: {
      maxAgeMs: e.TELEMETRY_STREAM_MAX_AGE_MS,
      duplicateWindowMs: e.TELEMETRY_DUPLICATE_WINDOW_MS,
      batch: { maxReadings: e.BRIDGE_BATCH_MAX_READINGS, maxDelayMs: e.BRIDGE_BATCH_MAX_DELAY_MS },
    },
  };
}
