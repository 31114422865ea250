import type { Counter, Meter } from '@opentelemetry/api';
import {
  AttestationFailedEventSchema,
  Durable,
  ReceivedFailureBatchSchema,
  Stream,
  Subject,
  type AttestationFailedEvent,
  type ReceivedFailureReport,
} from '@rampart/contracts';
import {
  TypedBus,
  decodeJson,
  openStream,
  type Clock,
  type Closable,
  type DurableMessage,
  type Logger,
  type MessageBus,
} from '@rampart/service-kit';
import type { AlertSink } from '../alerts/alert-sink.js';
import type { DeviceRateLimiter } from './device-rate-limiter.js';
import { DeviceTenants } from './device-tenants.js';
import type { FailureRow, FailuresRepository } from './failures.repository.js';
import { bucketSignature, bucketTitle } from './signature.js';

/** Rows before their bucket is known: the tenant may still have to be looked up. */
type UnbucketedRow = Omit<FailureRow, 'bucket' | 'title'>;

export interface FailureIngestSettings {
  readonly batchSize: number;
  readonly flushMs: number;
  readonly maxAckPending: number;
  readonly ackWaitMs: number;
  readonly retryDelayMs: number;
}

/**
 * Failure reports from the FAILURES stream (devices, via the gateway) and
 * attestation refusals from ATTESTATION_EVENTS → validated, rate-limited per
 * device, bucketed, and stored in batches; each stream message is
 * acknowledged only after its batch commits. A message that can never be
 * stored is terminated and counted, never stored half-parsed.
 */
export class FailureIngest {
  private subscriptions: Closable[] = [];
  /** Each stream message with its reports; a message is acknowledged once all of them are stored (or dropped). */
  private pending: Array<{ message: DurableMessage; rows: Array<{ row: UnbucketedRow | undefined; deviceId: string }> }> = [];
  private pendingReports = 0;
  private readonly tenants: DeviceTenants;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly stored: Counter;
  private readonly refused: Counter;
  private readonly dropped: Counter;
  private readonly bucketsCreated: Counter;
  readonly counters = { stored: 0, refused: 0, dropped: 0, redelivered: 0, failedBatches: 0 };

  constructor(
    private readonly bus: MessageBus,
    private readonly repository: FailuresRepository,
    private readonly limiter: DeviceRateLimiter,
    private readonly alerts: AlertSink,
    private readonly settings: FailureIngestSettings,
    private readonly clock: Clock,
    private readonly logger: Logger,
    meter: Meter,
  ) {
    this.stored = meter.createCounter('rampart_failures_reports_stored_total', { description: 'Failure reports stored' });
    this.refused = meter.createCounter('rampart_failures_reports_refused_total', { description: 'Failure reports refused, by reason' });
    this.dropped = meter.createCounter('rampart_failures_reports_dropped_total', {
      description: 'Failure reports over a device rate limit',
    });
    this.bucketsCreated = meter.createCounter('rampart_failures_buckets_created_total', { description: 'New failure buckets' });
    this.tenants = new DeviceTenants(new TypedBus(bus), logger);
  }

  async start(): Promise<void> {
    for (const stream of [Stream.failures, Stream.attestation]) await openStream(this.bus, stream, 'failures');
    const common = { maxAckPending: this.settings.maxAckPending, ackWaitMs: this.settings.ackWaitMs };
    this.subscriptions.push(
      await this.bus.consumeDurable(
        { stream: Stream.failures.name, durable: Durable.failuresIngest, filterSubject: Subject.failuresReportReceived, ...common },
        (m) => this.receive(m, 'device'),
      ),
      await this.bus.consumeDurable(
        {
          stream: Stream.attestation.name,
          durable: Durable.failuresAttestation,
          filterSubject: Subject.attestationVerdictFailed,
          ...common,
        },
        (m) => this.receive(m, 'attestation'),
      ),
    );
  }

  private receive(message: DurableMessage, source: 'device' | 'attestation'): void {
    let rows: UnbucketedRow[];
    try {
      rows =
        source === 'device'
          ? ReceivedFailureBatchSchema.parse(decodeJson(message.data)).reports.map((r) => this.fromDevice(r))
          : [this.fromAttestation(AttestationFailedEventSchema.parse(decodeJson(message.data)))];
    } catch (error) {
      this.counters.refused++;
      this.refused.add(1, { reason: 'malformed' });
      this.logger.warn(
        { subject: message.subject, streamSequence: message.streamSequence, err: (error as Error).message },
        'failure report refused: malformed',
      );
      message.term();
      return;
    }
    const redelivered = message.deliveryCount > 1;
    if (redelivered) this.counters.redelivered++;
    // A redelivered message was already admitted once (here or on a replica that died); taking again would count it twice.
    const now = this.clock.now();
    const admitted = rows.map((row) => ({
      row: redelivered || this.limiter.tryTake(row.deviceId, now) ? row : undefined,
      deviceId: row.deviceId,
    }));
    this.pending.push({ message, rows: admitted });
    this.pendingReports += admitted.length;
    if (this.pendingReports >= this.settings.batchSize) this.schedule(0);
    else if (this.timer === undefined) this.schedule(this.settings.flushMs);
  }

  private fromDevice(received: ReceivedFailureReport): UnbucketedRow {
    const r = received.report;
    return {
      tenantId: received.tenantId,
      kind: r.kind,
      component: r.component,
      version: r.version,
      exitCode: r.exitCode,
      signal: r.signal,
      message: r.message,
      frames: r.frames,
      // The device id is the one the gateway certified, never one a device wrote.
      reportKey: `${received.deviceId}:${r.seq}`,
      deviceId: received.deviceId,
      uptimeMs: r.uptimeMs ?? null,
      detail: r.detail ?? null,
      occurredAt: Math.min(r.at, received.receivedAt),
      receivedAt: received.receivedAt,
    };
  }

  private fromAttestation(event: AttestationFailedEvent): UnbucketedRow {
    return {
      tenantId: event.tenantId,
      kind: 'attestation-failure',
      component: 'attestation',
      version: '',
      exitCode: null,
      signal: null,
      message: event.reasons.join(', '),
      frames: [],
      reportKey: `attestation:${event.id}`,
      deviceId: event.deviceId,
      uptimeMs: null,
      detail: { reasons: event.reasons.join(',') },
      occurredAt: event.at,
      receivedAt: event.at,
    };
  }

  /**
   * A report from a device not yet attested (on its manufacturer identity)
   * carries no tenant; the tenant that claimed the device is asked for, so
   * its reports land in that tenant's buckets. If nobody claimed it, or the
   * attestation service does not answer, the report is kept without one.
   */
  private async withTenants(rows: readonly UnbucketedRow[]): Promise<FailureRow[]> {
    await this.tenants.learn(rows.filter((r) => r.tenantId === null).map((r) => r.deviceId));
    return rows.map((r) => {
      const row = { ...r, tenantId: r.tenantId ?? this.tenants.of(r.deviceId) };
      return { ...row, bucket: bucketSignature(row), title: bucketTitle(row) };
    });
  }

  /** Whole messages, up to about `batchSize` reports. */
  private take(): typeof this.pending {
    let count = 0;
    let n = 0;
    while (n < this.pending.length && (n === 0 || count + (this.pending[n]?.rows.length ?? 0) <= this.settings.batchSize)) {
      count += this.pending[n]?.rows.length ?? 0;
      n++;
    }
    this.pendingReports -= count;
    return this.pending.splice(0, n);
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const taken = this.take();
      if (this.pending.length > 0) this.schedule(this.pendingReports >= this.settings.batchSize ? 0 : this.settings.flushMs);
      // One writer: bucket rows are updated in place, and one writer never deadlocks with itself.
      this.writing = this.writing.then(() => this.write(taken));
    }, delayMs);
  }

  private async write(taken: typeof this.pending): Promise<void> {
    if (taken.length === 0) return;
    const entries = taken.flatMap((t) => t.rows);
    const rows = await this.withTenants(entries.flatMap((e) => (e.row === undefined ? [] : [e.row])));
    const dropped = new Map<string, number>();
    for (const e of entries) if (e.row === undefined) dropped.set(e.deviceId, (dropped.get(e.deviceId) ?? 0) + 1);
    try {
      const result = await this.repository.storeBatch(rows, dropped);
      for (const t of taken) t.message.ack();
      const droppedCount = entries.length - rows.length;
      this.counters.stored += result.stored;
      this.counters.dropped += droppedCount;
      this.stored.add(result.stored);
      if (droppedCount > 0) this.dropped.add(droppedCount);
      for (const bucket of result.newBuckets) {
        this.bucketsCreated.add(1);
        await this.alerts.send({ type: 'bucket.created', ...bucket });
      }
    } catch (error) {
      this.counters.failedBatches++;
      this.logger.error({ err: error, messages: taken.length }, 'failure batch not stored; it will be redelivered');
      for (const t of taken) t.message.nak(this.settings.retryDelayMs);
    }
  }

  /** Stops taking messages and writes what it holds. */
  async stop(): Promise<void> {
    for (const s of this.subscriptions) await s.close();
    this.subscriptions = [];
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      const taken = this.pending.splice(0);
      this.pendingReports = 0;
      this.writing = this.writing.then(() => this.write(taken));
    }
    await this.writing;
  }
}
