import {
  AttestationReason,
  DenialReason,
  ErrorCode,
  TPM2_QUOTE_KIND,
  Tpm2AttestRequestSchema,
  type AttestationResponse,
  type Tpm2AttestRequest,
} from '@rampart/contracts';
import { KeyedAdmission, type AdmissionRefusal, type Clock, type Logger } from '@rampart/service-kit';
import type { AttestationKind, AttestationSubmitter } from '../mqtt/publish/bridges.js';
import type { AttestationBridge } from './attestation-bridge.js';
import type { GatewayMetrics } from './gateway-metrics.js';

/** Limits on the attestation messages this gateway passes to the attestation service. */
export interface AttestationLimits {
  /** Per device identity, across all its connections: attestation messages (nonce requests and evidence) per minute. */
  readonly ratePerMinute: number;
  readonly burst: number;
  /** Requests to the attestation service in flight at once from this gateway. */
  readonly maxInFlight: number;
  /** Requests waiting for one of those; past this they are shed. */
  readonly maxWaiting: number;
  /** A request not answered within this is answered TIMEOUT, and dropped if it is still queued (here or in the service). */
  readonly timeoutMs: number;
}

/**
 * Everything between a device's attestation message and the attestation
 * service. Issue 13 found one genuine IDevID could stall attestation for the
 * whole fleet: the limits were per connection, so reconnecting reset them,
 * and queued work ran long after the device had gone. Here the limits are
 * per device identity (one message in flight, a rate), whatever connection
 * it arrives on; the queue to the service is bounded; and each request
 * carries a deadline, after which it is dropped rather than done for nobody
 * — here while it waits, and in the attestation service, which enforces the
 * same per-device limits for requests from every gateway replica.
 */
export class AttestationGate implements AttestationSubmitter {
  private readonly admission: KeyedAdmission;

  constructor(
    private readonly limits: AttestationLimits,
    private readonly bridge: AttestationBridge,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {
    this.admission = new KeyedAdmission(
      { ratePerSecond: limits.ratePerMinute / 60, burst: limits.burst, maxActive: limits.maxInFlight, maxWaiting: limits.maxWaiting },
      clock,
    );
  }

  get inFlight(): number {
    return this.admission.active;
  }

  get waiting(): number {
    return this.admission.waiting;
  }

  /**
   * The answer for the device, or undefined when there is nobody to answer
   * (the device has gone). Never rejects: whatever goes wrong becomes an
   * error answer, and the device's slot is given back, so one failed call
   * cannot leave the device unable to attest.
   */
  async submit(
    deviceId: string,
    kind: AttestationKind,
    payload: Buffer,
    stillConnected: () => boolean,
  ): Promise<AttestationResponse | undefined> {
    const deadline = this.clock.now() + this.limits.timeoutMs;
    const outcome = await this.admission.run(
      deviceId,
      () => {
        if (kind === 'attestEvidence') return this.bridge.submitEvidence(deviceId, payload, deadline);
        // A request is empty for signed evidence; a TPM 2.0 device's names its EK and AK.
        const tpm2 = tpm2RequestOf(payload);
        if (tpm2 === undefined) return this.bridge.requestNonce(deviceId, deadline);
        if (tpm2 === 'malformed') {
          this.metrics.denied(DenialReason.malformedPayload);
          this.logger.warn({ deviceId, reason: DenialReason.malformedPayload }, 'malformed TPM 2.0 attestation request refused');
          return Promise.resolve<AttestationResponse>({
            type: 'verdict',
            verdict: { pass: false, reasons: [AttestationReason.malformedEvidence] },
          });
        }
        return this.bridge.requestTpm2Challenge(deviceId, tpm2, deadline);
      },
      { deadline, wanted: stillConnected },
    );
    switch (outcome.kind) {
      case 'done':
        return outcome.value;
      case 'refused':
        return this.refused(outcome.reason, deviceId);
      case 'failed':
        this.logger.error({ deviceId, kind, err: outcome.error }, 'attestation call failed');
        return { type: 'error', code: ErrorCode.internal, message: 'attestation failed' };
    }
  }

  /** One line for every refusal since the last call, naming the devices. */
  logSummary(): void {
    const summary = this.admission.takeSummary();
    if (summary === undefined) return;
    this.logger.warn(
      { refused: summary.refused, devices: summary.keys },
      'attestation messages refused or shed to protect the attestation service',
    );
  }

  private refused(reason: AdmissionRefusal, deviceId: string): AttestationResponse | undefined {
    switch (reason) {
      case 'busy':
      case 'rate_limited':
        this.metrics.denied(DenialReason.rateLimited);
        this.admission.noteRefusal(`rate_limited:${reason}`, deviceId);
        return {
          type: 'error',
          code: ErrorCode.rateLimited,
          message: reason === 'busy' ? 'an attestation message of this device is still being handled' : 'too many attestation messages',
        };
      case 'cancelled':
      case 'expired':
      case 'overloaded':
        this.metrics.shedMessage(reason);
        this.admission.noteRefusal(`shed:${reason}`, deviceId);
        if (reason === 'cancelled') return undefined;
        return reason === 'expired'
          ? { type: 'error', code: ErrorCode.timeout, message: 'the attestation service did not get to this request in time' }
          : { type: 'error', code: ErrorCode.unavailable, message: 'the attestation service is overloaded' };
    }
  }
}

/**
 * The TPM 2.0 attestation request in a payload, if it says it is one (`kind: 'tpm2-quote'`); anything else asks for
 * a plain nonce, as before.
 */
function tpm2RequestOf(payload: Buffer): Tpm2AttestRequest | 'malformed' | undefined {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
  if ((json as { kind?: unknown } | null)?.kind !== TPM2_QUOTE_KIND) return undefined;
  const parsed = Tpm2AttestRequestSchema.safeParse(json);
  return parsed.success ? parsed.data : 'malformed';
}
