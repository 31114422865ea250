import { DenialReason, ErrorCode, type AttestationResponse } from '@rampart/contracts';
import { DeadlineQueue, PerKeyLimiter, type Clock, type Logger, type QueueRefusal } from '@rampart/service-kit';
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

export type AttestationKind = 'attestRequest' | 'attestEvidence';

/** Device ids named in one summary log line at most. */
const LOGGED_DEVICES = 10;

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
export class AttestationGate {
  private readonly perDevice: PerKeyLimiter;
  private readonly queue: DeadlineQueue;
  private readonly refusedSinceLog = new Map<string, number>();
  private readonly refusedDevices = new Set<string>();

  constructor(
    private readonly limits: AttestationLimits,
    private readonly bridge: AttestationBridge,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {
    this.perDevice = new PerKeyLimiter({ ratePerSecond: limits.ratePerMinute / 60, burst: limits.burst });
    this.queue = new DeadlineQueue(limits.maxInFlight, limits.maxWaiting, clock);
  }

  get inFlight(): number {
    return this.queue.active;
  }

  get waiting(): number {
    return this.queue.queued;
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
    const now = this.clock.now();
    const admission = this.perDevice.tryAcquire(deviceId, now);
    if (!admission.ok) {
      this.metrics.denied(DenialReason.rateLimited);
      this.noteRefusal(`rate_limited:${admission.reason}`, deviceId);
      return {
        type: 'error',
        code: ErrorCode.rateLimited,
        message:
          admission.reason === 'busy' ? 'an attestation message of this device is still being handled' : 'too many attestation messages',
      };
    }
    try {
      const deadline = now + this.limits.timeoutMs;
      const outcome = await this.queue.run(
        () =>
          kind === 'attestRequest' ? this.bridge.requestNonce(deviceId, deadline) : this.bridge.submitEvidence(deviceId, payload, deadline),
        { deadline, wanted: stillConnected },
      );
      switch (outcome.kind) {
        case 'done':
          return outcome.value;
        case 'refused':
          this.shed(outcome.reason, deviceId);
          return outcome.reason === 'cancelled' ? undefined : refusalAnswer(outcome.reason);
        case 'failed':
          this.logger.error({ deviceId, kind, err: outcome.error }, 'attestation call failed');
          return { type: 'error', code: ErrorCode.internal, message: 'attestation failed' };
      }
    } finally {
      admission.release();
    }
  }

  private shed(reason: QueueRefusal, deviceId: string): void {
    this.metrics.shedMessage(reason);
    this.noteRefusal(`shed:${reason}`, deviceId);
  }

  private noteRefusal(key: string, deviceId: string): void {
    this.refusedSinceLog.set(key, (this.refusedSinceLog.get(key) ?? 0) + 1);
    if (this.refusedDevices.size < LOGGED_DEVICES) this.refusedDevices.add(deviceId);
  }

  /**
   * One line for every refusal since the last call (a flood would otherwise be
   * a flood of log lines), naming the devices; and forgets the limits of
   * devices that have been quiet long enough to have nothing left to remember.
   */
  logSummary(): void {
    this.perDevice.prune(this.clock.now());
    if (this.refusedSinceLog.size === 0) return;
    this.logger.warn(
      { refused: Object.fromEntries(this.refusedSinceLog), devices: [...this.refusedDevices] },
      'attestation messages refused or shed to protect the attestation service',
    );
    this.refusedSinceLog.clear();
    this.refusedDevices.clear();
  }
}

function refusalAnswer(reason: Exclude<QueueRefusal, 'cancelled'>): AttestationResponse {
  return reason === 'expired'
    ? { type: 'error', code: ErrorCode.timeout, message: 'the attestation service did not get to this request in time' }
    : { type: 'error', code: ErrorCode.unavailable, message: 'the attestation service is overloaded' };
}
