import type { Counter, Meter } from '@opentelemetry/api';
import { Subject } from '@rampart/contracts';
import { encodeJson, type Logger, type MessageBus } from '@rampart/service-kit';

export type FailureAlert =
  | { readonly type: 'bucket.created'; readonly signature: string; readonly tenantId: string | null; readonly title: string }
  | {
      readonly type: 'bucket.spiked';
      readonly signature: string;
      readonly tenantId: string | null;
      readonly title: string;
      readonly recent: number;
      readonly baseline: number;
      readonly windowMs: number;
    };

const WEBHOOK_TIMEOUT_MS = 5_000;

/**
 * Where alerts go: a NATS broadcast always (`failures.bucket.created`,
 * `failures.bucket.spiked`), and an HTTP webhook when one is configured. A
 * webhook that fails is logged and counted; it never holds up ingest.
 */
export class AlertSink {
  private readonly webhookFailures: Counter;

  constructor(
    private readonly bus: MessageBus,
    private readonly webhookUrl: string | undefined,
    private readonly logger: Logger,
    meter: Meter,
  ) {
    this.webhookFailures = meter.createCounter('rampart_failures_webhook_failures_total', { description: 'Alert webhooks that failed' });
  }

  async send(alert: FailureAlert): Promise<void> {
    const subject = alert.type === 'bucket.created' ? Subject.failuresBucketCreated : Subject.failuresBucketSpiked;
    await this.bus
      .broadcast(subject, encodeJson(alert))
      .catch((error: unknown) => this.logger.warn({ err: error, alert }, 'alert not broadcast'));
    if (this.webhookUrl === undefined) return;
    try {
      const response = await fetch(this.webhookUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alert),
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      if (response.status >= 300) throw new Error(`webhook answered ${response.status}`);
    } catch (error) {
      this.webhookFailures.add(1);
      this.logger.warn({ err: (error as Error).message, type: alert.type }, 'alert webhook failed');
    }
  }
}
