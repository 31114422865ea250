import { Durable, ImageEventSchema, Stream, Subject } from '@rampart/contracts';
import { decodeJson, openStream, type Closable, type DurableMessage, type Logger, type MessageBus } from '@rampart/service-kit';
import type { AttestationRepository } from './attestation.repository.js';

const RETRY_DELAY_MS = 1_000;

/**
 * Keeps the known-good measurement list in step with image releases and
 * revocations from the updates service, through a durable consumer so no
 * event is missed while the attestation service is down. Each event is
 * applied and audited in one transaction, then acknowledged.
 */
export class KnownGoodConsumer {
  private subscription: Closable | undefined;

  constructor(
    private readonly bus: MessageBus,
    private readonly repository: AttestationRepository,
    private readonly logger: Logger,
    /** Tells every attestation replica to read policy again. */
    private readonly announcePolicyChange: () => Promise<void>,
  ) {}

  async start(): Promise<void> {
    await openStream(this.bus, Stream.updates, 'attestation');
    this.subscription = await this.bus.consumeDurable(
      {
        stream: Stream.updates.name,
        durable: Durable.attestationKnownGood,
        filterSubject: 'updates.image.>',
        maxAckPending: 100,
        ackWaitMs: 30_000,
      },
      (message) => void this.apply(message),
    );
  }

  private async apply(message: DurableMessage): Promise<void> {
    const status = message.subject.endsWith(Subject.updatesImageReleased)
      ? 'released'
      : message.subject.endsWith(Subject.updatesImageRevoked)
        ? 'revoked'
        : undefined;
    let event;
    try {
      event = ImageEventSchema.parse(decodeJson(message.data));
    } catch {
      event = undefined;
    }
    if (status === undefined || event === undefined) {
      this.logger.warn(
        { subject: message.subject, streamSequence: message.streamSequence },
        'image event can never be applied; terminated',
      );
      message.term();
      return;
    }
    try {
      await this.repository.transaction(async (tx) => {
        await tx.upsertMeasurement(event.stage, event.sha256, status, event.version);
        await tx.audit({
          tenantId: null,
          actor: 'updates',
          action: `measurement.${status}`,
          subject: `${event.stage}:${event.sha256}`,
          detail: { imageId: event.imageId, version: event.version },
        });
      });
      message.ack();
    } catch (error) {
      this.logger.error({ err: error }, 'image event not applied; it will be redelivered');
      message.nak(RETRY_DELAY_MS);
      return;
    }
    // Applied and acknowledged; if the announcement is lost, other replicas
    // still read the change within the policy cache's lifetime.
    await this.announcePolicyChange().catch((error: unknown) =>
      this.logger.warn({ err: error }, 'policy change not announced; other replicas see it when their cache expires'),
    );
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
  }
}
