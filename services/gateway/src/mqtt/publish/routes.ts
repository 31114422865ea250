import type { Aedes, Client, PublishPacket } from 'aedes';
import { attestResponseTopic, type AttestationResponse, type DevicePublishKind } from '@rampart/contracts';
import type { Logger } from '@rampart/service-kit';
import type { Admission } from '../admission.js';
import type { MqttMetrics } from '../metrics.js';
import type { ConnectionInfo } from '../connections.js';
import { DENIAL_RESPONSES, DenialError } from '../denials.js';
import type { AttestationKind, AttestationSubmitter, PayloadForwarder } from './bridges.js';

/** Called once per PUBLISH: null acknowledges it (PUBACK per QoS); an error closes the connection instead. */
export type PublishDone = (error?: Error | null) => void;

export interface PublishRoute {
  /** Whether the message takes a slot of the gateway's global admission first (the route releases it), or has limits of its own. */
  readonly admitted: boolean;
  readonly deliver: (client: Client, info: ConnectionInfo, packet: PublishPacket, done: PublishDone) => void;
}

/**
 * Step 4 of the publish flow: where each kind of device message goes. The
 * kind is what the ACL matched: `devices/<own id>/<DevicePublishTopic[kind]>`.
 */
export type PublishRoutes = Readonly<Record<DevicePublishKind, PublishRoute>>;

export interface PublishRouteDeps {
  readonly telemetry: PayloadForwarder<'telemetry'>;
  readonly failures: PayloadForwarder<'failures' | 'heartbeat'>;
  readonly attestation: AttestationSubmitter;
  readonly admission: Admission;
  /** The broker, to answer attestation messages on the device's response topic; undefined until it has started. */
  readonly broker: () => Aedes | undefined;
  readonly metrics: MqttMetrics;
  readonly logger: Logger;
}

export function publishRoutes(deps: PublishRouteDeps): PublishRoutes {
  return {
    telemetry: bridgeRoute('telemetry', deps.telemetry, { refused: 'reading refused', stream: 'telemetry', countsBridged: true }, deps),
    failures: bridgeRoute('failures', deps.failures, failureLabels, deps),
    heartbeat: bridgeRoute('heartbeat', deps.failures, failureLabels, deps),
    attestRequest: attestationRoute('attestRequest', deps),
    attestEvidence: attestationRoute('attestEvidence', deps),
  };
}

interface BridgeLabels {
  /** The log line for a payload the bridge refused. */
  readonly refused: string;
  /** The stream named when it is unavailable. */
  readonly stream: string;
  /** Counted in rampart_gateway_bridged_total, which counts readings. */
  readonly countsBridged: boolean;
}

const failureLabels: BridgeLabels = { refused: 'failure report refused', stream: 'failure', countsBridged: false };

/** PUBACK only once the stream holds the message, so an acknowledged message is never lost; holds its admission slot until then. */
function bridgeRoute<Kind extends string>(
  kind: Kind,
  bridge: PayloadForwarder<Kind>,
  labels: BridgeLabels,
  { admission, metrics, logger }: PublishRouteDeps,
): PublishRoute {
  return {
    admitted: true,
    deliver: (client, info, packet, done) => {
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      bridge.forward(kind, client.id, info.tenantId, payload).then(
        (outcome) => {
          admission.release();
          if (outcome.kind === 'rejected') {
            metrics.denied(outcome.reason);
            logger.warn({ deviceId: client.id, kind, reason: outcome.reason, detail: outcome.detail }, labels.refused);
            // A payload refused is acknowledged and dropped (DENIAL_RESPONSES): resending it would not make it valid.
            done(DENIAL_RESPONSES[outcome.reason].closesConnection ? new DenialError(outcome.reason, labels.refused) : null);
            return;
          }
          if (labels.countsBridged) metrics.bridgedReading();
          done(null);
        },
        (error: unknown) => {
          admission.release();
          metrics.bridgeFailed();
          logger.error(
            { deviceId: client.id, err: error },
            `${labels.stream} stream unavailable; closing connection so the device retries`,
          );
          // No PUBACK: the device still holds the message and will resend it.
          done(new Error(`${labels.stream} stream unavailable`));
        },
      );
    },
  };
}

/**
 * Attestation messages go to the attestation service through the gate
 * (per-identity limits, a bounded queue with deadlines); its answer comes
 * back on `devices/<id>/attest/response`. The PUBLISH is acknowledged at
 * once: the device waits for the response message, not the PUBACK.
 */
function attestationRoute(kind: AttestationKind, { attestation, broker, logger }: PublishRouteDeps): PublishRoute {
  const respond = (deviceId: string, response: AttestationResponse): void => {
    if (response.type === 'verdict' && !response.verdict.pass) {
      logger.warn({ deviceId, reasons: response.verdict.reasons }, 'attestation refused');
    }
    broker()?.publish(
      {
        cmd: 'publish',
        topic: attestResponseTopic(deviceId),
        payload: Buffer.from(JSON.stringify(response)),
        qos: 1,
        retain: false,
        dup: false,
      },
      (error) => {
        if (error) logger.warn({ deviceId, err: error.message }, 'attestation response not delivered');
      },
    );
  };
  return {
    admitted: false,
    deliver: (client, _info, packet, done) => {
      done(null);
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      const deviceId = client.id;
      // The gate never rejects; the rejection path is here all the same, so nothing can leave a floating rejection.
      attestation
        .submit(deviceId, kind, payload, () => !client.closed)
        .then(
          (response) => {
            if (response !== undefined) respond(deviceId, response);
          },
          (error: unknown) => logger.error({ deviceId, err: error }, 'attestation answer lost'),
        );
    },
  };
}
