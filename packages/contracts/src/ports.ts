/**
 * The fixed default ports of everything `rampart up` starts, each overridable
 * by a flag and an environment variable (0: any free port). The API front is
 * the one base URL an operator needs: every service's REST API under /v1, the
 * merged OpenAPI document at /openapi.json and Swagger UI at /docs.
 *
 * The one table of default ports: each service's config takes its default
 * from here and scripts/up-distributed.sh reads it; the Helm chart and
 * docker/compose.yaml cannot import it, so test/deploy/ports.test.ts holds
 * them to it. Kept free of imports so the CLI can load it in a blink.
 */
export const DEFAULT_PORTS = {
  /** The API front. */
  api: 8000,
  /** The gateway's operations HTTP (/healthz, /readyz, /metrics). */
  gatewayHttp: 8080,
  telemetry: 8081,
  /** The second telemetry replica of `make up` (distributed mode on one machine runs two). */
  telemetryReplica: 8082,
  attestation: 8083,
  failures: 8084,
  updates: 8085,
  /** The update server's device endpoint (mutual TLS). */
  updatesDevice: 8443,
  /** MQTT over TLS, where devices connect. */
  mqtt: 8883,
} as const;

export type PortName = keyof typeof DEFAULT_PORTS;
