import { join } from 'node:path';
import { startNode } from './processes.js';
import { REPO_ROOT } from './report.js';

/**
 * Starts the built gateway as its own process for a benchmark: PKI from
 * `pkiDir`, bus prefix `prefix`, the per-device limiter left on but set
 * above what a benchmark load reaches. Resolves once `readyWhen` logs.
 * @param {{ natsUrl: string, prefix: string, pkiDir: string, devListener: boolean, env?: Record<string, string> }} options
 */
export function startBenchGateway(options) {
  return startNode(
    join(REPO_ROOT, 'services/gateway/dist/main.js'),
    {
      NATS_URL: options.natsUrl,
      BUS_PREFIX: options.prefix,
      HTTP_PORT: '0',
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: '0',
      ...(options.devListener ? { DEV_LISTENER_PORT: '0' } : {}),
      TLS_CERT_FILE: join(options.pkiDir, 'gateway.crt'),
      TLS_KEY_FILE: join(options.pkiDir, 'gateway.key'),
      MANUFACTURER_CA_FILE: join(options.pkiDir, 'manufacturer-ca.crt'),
      PLATFORM_CA_FILE: join(options.pkiDir, 'platform-ca.crt'),
      DEVICE_RATE_PER_SEC: '1000000',
      DEVICE_RATE_BURST: '1000000',
      // A benchmark attests each device again and again: the per-identity attestation limit, too, above its load.
      ATTEST_RATE_PER_MIN: '100000000',
      ATTEST_BURST: '1000000',
      TELEMETRY_STREAM_MAX_AGE_MS: '300000',
      ...(options.env ?? {}),
    },
    (l) => typeof l.msg === 'string' && l.msg.startsWith(options.devListener ? 'DEVELOPMENT LISTENER ON' : 'MQTT over TLS listening'),
  );
}
