import { PassThrough } from 'node:stream';
import type { AuthenticateError, Client } from 'aedes';
import { metrics as otelMetrics } from '@opentelemetry/api';
import { DenialReason, type DenialReasonValue } from '@rampart/contracts';
import { createLogger } from '@rampart/service-kit';
import { describe, expect, it } from 'vitest';
import { GatewayMetrics } from '../../gateway/gateway-metrics.js';
import { DeviceConnections, type ConnectionInfo } from '../connections.js';
import { ConnackRefusal, DenialError } from '../denials.js';
import { RefusalSummary } from '../refusal-summary.js';
import { authenticateHook } from './authenticate.js';

const deviceId = 'a'.repeat(64);
const revokedId = 'b'.repeat(64);
const clock = { now: () => 1_000_000 };

interface Attempt {
  readonly error: (AuthenticateError & DenialError) | null;
  readonly accepted: boolean | null;
  readonly metrics: GatewayMetrics;
  readonly logs: ReadonlyArray<{ level: string; reason?: string; msg: string }>;
}

/**
 * Runs the hook for a client with id `clientId` on a connection that proved `info` (none: a connection no listener
 * attached), on a gateway that holds `full` sessions already and `maxConnections` at most; then the summaries are logged.
 */
function authenticate(clientId: string, info: ConnectionInfo | undefined, { full = 0, maxConnections = 10 } = {}): Promise<Attempt> {
  const connections = new DeviceConnections();
  for (let i = 0; i < full; i++) connections.sessionReady({ id: `held-${i}`, closed: false, conn: new PassThrough() } as unknown as Client);
  const conn = new PassThrough();
  if (info !== undefined) connections.attach(conn, info);
  const metrics = new GatewayMetrics(
    otelMetrics.getMeter('test'),
    () => 0,
    () => 0,
    () => 0,
  );
  const logs: Array<{ level: string; reason?: string; msg: string }> = [];
  const logger = createLogger('gateway', 'info', { write: (line: string) => logs.push(JSON.parse(line) as Attempt['logs'][number]) });
  const refusals = new RefusalSummary(metrics, logger, () => ({ open: undefined, handshaking: undefined }));
  const hook = authenticateHook({
    connections,
    revocations: { isRevoked: (id) => id === revokedId },
    limits: { deviceRatePerSec: 10, deviceRateBurst: 10, maxConnections },
    refusals,
    metrics,
    logger,
    clock,
  });
  // The hook reads only the client's id and its connection.
  const client = { id: clientId, conn } as unknown as Client;
  return new Promise((resolve) =>
    hook(client, undefined, undefined, (error, accepted) => {
      refusals.flush();
      resolve({ error: error as (AuthenticateError & DenialError) | null, accepted, metrics, logs });
    }),
  );
}

function tls(certifiedId: string): ConnectionInfo {
  return { certifiedId, listener: 'tls', credential: 'operational', tenantId: 'acme', remoteAddress: '' };
}
const dev: ConnectionInfo = { certifiedId: undefined, listener: 'dev', credential: 'operational', tenantId: null, remoteAddress: '' };

describe(authenticateHook.name, () => {
  it('accepts a device whose client id is the id its certificate proves, and gives it a rate', async () => {
    const info = tls(deviceId);
    const { error, accepted, metrics, logs } = await authenticate(deviceId, info);
    expect(error).toBeNull();
    expect(accepted).toBe(true);
    expect(info.bucket).toBeDefined();
    expect(metrics.totals.connectionsRefused).toBe(0);
    expect(logs).toEqual([]);
  });

  it.each<[string, string, ConnectionInfo | undefined, DenialReasonValue, number]>([
    ['a connection no listener accepted', deviceId, undefined, DenialReason.notAuthenticated, ConnackRefusal.notAuthorized],
    ['a revoked device', revokedId, tls(revokedId), DenialReason.deviceRevoked, ConnackRefusal.notAuthorized],
    [
      'a client id that is not the certified one',
      'c'.repeat(64),
      tls(deviceId),
      DenialReason.clientIdMismatch,
      ConnackRefusal.identifierRejected,
    ],
    ['a client id that is no device id (dev listener)', 'sensor-1', dev, DenialReason.clientIdMismatch, ConnackRefusal.identifierRejected],
  ])(
    'refuses %s with its CONNACK code [MQTT-3.2.2-5], counted once and logged with the reason',
    async (_label, clientId, info, reason, code) => {
      const { error, accepted, metrics, logs } = await authenticate(clientId, info);
      expect(accepted).toBe(false);
      expect(error).toBeInstanceOf(DenialError);
      expect(error?.reason).toBe(reason);
      expect(error?.returnCode).toBe(code);
      expect(metrics.totals.connectionsRefused).toBe(1);
      expect(metrics.totals.denials).toEqual({ [reason]: 1 });
      expect(logs).toEqual([expect.objectContaining({ level: 'warn', reason })]);
    },
  );
});
