import type { Counter, Meter } from '@opentelemetry/api';
import { ErrorCode } from '@rampart/contracts';
import { BusError, KeyedAdmission, type AdmissionRefusal, type Clock, type Logger } from '@rampart/service-kit';

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
  private readonly admission: KeyedAdmission;
  private readonly refusals: Counter;

  constructor(
    private readonly limits: AdmissionLimits,
    private readonly clock: Clock,
    private readonly logger: Logger,
    meter: Meter,
  ) {
    this.admission = new KeyedAdmission(
      {
        ratePerSecond: limits.deviceRatePerMinute / 60,
        burst: limits.deviceBurst,
        maxActive: limits.maxConcurrent,
        maxWaiting: limits.maxWaiting,
      },
      clock,
    );
    this.refusals = meter.createCounter('rampart_attestation_refused_total', {
      description: 'Attestation requests refused or dropped unstarted, by reason (busy, rate_limited, overloaded, expired)',
    });
    meter
      .createObservableGauge('rampart_attestation_queue', { description: 'Attestation requests being handled and waiting' })
      .addCallback((result) => {
        result.observe(this.admission.active, { state: 'active' });
        result.observe(this.admission.waiting, { state: 'waiting' });
      });
  }

  /** Runs `work` for the device within the limits; throws a BusError the gateway passes on to the device otherwise. */
  async admit<T>(deviceId: string, requesterTimeoutMs: number | undefined, work: () => Promise<T>): Promise<T> {
    // The requester says how long it still waits, not until when: its clock and ours need not agree.
    const deadline = this.clock.now() + Math.min(requesterTimeoutMs ?? this.limits.defaultDeadlineMs, this.limits.defaultDeadlineMs);
    const outcome = await this.admission.run(deviceId, work, { deadline });
    switch (outcome.kind) {
      case 'done':
        return outcome.value;
      case 'failed':
        throw outcome.error;
      case 'refused':
        this.refusals.add(1, { reason: outcome.reason });
        this.admission.noteRefusal(outcome.reason, deviceId);
        throw refusalError(outcome.reason);
    }
  }

  /** One line for the refusals since the last call, naming devices; and forgets quiet devices' limits. */
  logSummary(): void {
    const summary = this.admission.takeSummary();
    if (summary === undefined) return;
    this.logger.warn(
      { refused: summary.refused, devices: summary.keys },
      'attestation requests refused or dropped to keep attestation available',
    );
  }
}

function refusalError(reason: AdmissionRefusal): BusError {
  switch (reason) {
    case 'busy':
      return new BusError(ErrorCode.rateLimited, 'this device already has a request in progress');
    case 'rate_limited':
      return new BusError(ErrorCode.rateLimited, 'too many requests');
    case 'overloaded':
      return new BusError(ErrorCode.unavailable, 'attestation is overloaded; try again later');
    case 'expired':
    case 'cancelled':
      return new BusError(ErrorCode.timeout, 'the request expired before its turn came');
  }
}
