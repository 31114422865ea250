import type { Counter, Meter } from '@opentelemetry/api';
import { ErrorCode } from '@rampart/contracts';
import { BusError, DeadlineQueue, PerKeyLimiter, type Clock, type Logger, type QueueRefusal } from '@rampart/service-kit';

/** Limits on the attestation work this replica takes on, whichever gateway it comes from. */
export interface AdmissionLimits {
  /** Per device id: requests (nonce and evidence) per minute, and the burst. One at a time per device. */
  readonly deviceRatePerMinute: number;
  readonly deviceBurst: number;
  /** Requests being handled at once, and waiting for a turn. */
  readonly maxConcurrent: number;
  readonly maxWaiting: number;
  /** The deadline of a request that names none, and the furthest one a request may name. */
  readonly defaultDeadlineMs: number;
}

/** Device ids named in one summary log line at most. */
const LOGGED_DEVICES = 10;

/**
 * Where attestation work lands, so the limits hold across gateway replicas:
 * each device id gets one request at a time and a rate, the work waiting
 * for a turn is bounded, and a request whose requester has given up (its
 * deadline passed, as the gateway sent it) is dropped unstarted — the
 * backlog a flood leaves behind drains in one deadline, not in minutes.
 * With several replicas of this service each keeps its own per-device
 * count, so a device gets at most replicas × the rate.
 */
export class AttestationAdmission {
  private readonly perDevice: PerKeyLimiter;
  private readonly queue: DeadlineQueue;
  private readonly refusals: Counter;
  private readonly refusedSinceLog = new Map<string, number>();
  private readonly refusedDevices = new Set<string>();

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly clock: Clock,
    private readonly logger: Logger,
    meter: Meter,
  ) {
    this.perDevice = new PerKeyLimiter({ ratePerSecond: limits.deviceRatePerMinute / 60, burst: limits.deviceBurst });
    this.queue = new DeadlineQueue(limits.maxConcurrent, limits.maxWaiting, clock);
    this.refusals = meter.createCounter('rampart_attestation_refused_total', {
      description: 'Attestation requests refused or dropped unstarted, by reason (busy, rate_limited, overloaded, expired)',
    });
    meter
      .createObservableGauge('rampart_attestation_queue', { description: 'Attestation requests being handled and waiting' })
      .addCallback((result) => {
        result.observe(this.queue.active, { state: 'active' });
        result.observe(this.queue.queued, { state: 'waiting' });
      });
  }

  /** Runs `work` for the device within the limits; throws a BusError the gateway passes on to the device otherwise. */
  async admit<T>(deviceId: string, requesterTimeoutMs: number | undefined, work: () => Promise<T>): Promise<T> {
    const now = this.clock.now();
    // The requester says how long it still waits, not until when: its clock and ours need not agree.
    const deadline = now + Math.min(requesterTimeoutMs ?? this.limits.defaultDeadlineMs, this.limits.defaultDeadlineMs);
    const admission = this.perDevice.tryAcquire(deviceId, now);
    if (!admission.ok) {
      this.refuse(admission.reason, deviceId);
      throw new BusError(
        ErrorCode.rateLimited,
        admission.reason === 'busy' ? 'this device already has a request in progress' : 'too many requests',
      );
    }
    try {
      const outcome = await this.queue.run(work, { deadline });
      switch (outcome.kind) {
        case 'done':
          return outcome.value;
        case 'failed':
          throw outcome.error;
        case 'refused':
          this.refuse(outcome.reason, deviceId);
          throw refusalError(outcome.reason);
      }
    } finally {
      admission.release();
    }
  }

  private refuse(reason: string, deviceId: string): void {
    this.refusals.add(1, { reason });
    this.refusedSinceLog.set(reason, (this.refusedSinceLog.get(reason) ?? 0) + 1);
    if (this.refusedDevices.size < LOGGED_DEVICES) this.refusedDevices.add(deviceId);
  }

  /** One line for the refusals since the last call, naming devices; and forgets quiet devices' limits. */
  logSummary(): void {
    this.perDevice.prune(this.clock.now());
    if (this.refusedSinceLog.size === 0) return;
    this.logger.warn(
      { refused: Object.fromEntries(this.refusedSinceLog), devices: [...this.refusedDevices] },
      'attestation requests refused or dropped to keep attestation available',
    );
    this.refusedSinceLog.clear();
    this.refusedDevices.clear();
  }
}

function refusalError(reason: QueueRefusal): BusError {
  return reason === 'overloaded'
    ? new BusError(ErrorCode.unavailable, 'attestation is overloaded; try again later')
    : new BusError(ErrorCode.timeout, 'the request expired before its turn came');
}
