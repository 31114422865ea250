import { Durable, Stream, Subject, TenantCreatedEventSchema } from '@rampart/contracts';
import { decodeJson, openStream, type Closable, type DurableMessage, type Logger, type MessageBus } from '@rampart/service-kit';
import type { TenantMetadata } from './tenant-metadata.js';

const RETRY_DELAY_MS = 1_000;

/**
 * Makes each tenant's TUF repository (keys, root version 1, first targets,
 * snapshot and timestamp) when the attestation service announces the
 * tenant, so a device asking before anything was uploaded gets signed,
 * empty metadata rather than a 404 it could read as "up to date". A
 * durable consumer shared by every replica: one of them takes each event,
 * and none is missed while the service is down. Making it is idempotent
 * (under the tenant's advisory lock), so a redelivery changes nothing.
 */
export class TenantRepositoryConsumer {
  private subscription: Closable | undefined;

  constructor(
    private readonly bus: MessageBus,
    private readonly metadata: TenantMetadata,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await openStream(this.bus, Stream.attestation, 'updates');
    this.subscription = await this.bus.consumeDurable(
      {
        stream: Stream.attestation.name,
        durable: Durable.updatesTenantRepositories,
        filterSubject: Subject.attestationTenantCreated,
        maxAckPending: 100,
        ackWaitMs: 30_000,
      },
      (message) => void this.apply(message),
    );
  }

  private async apply(message: DurableMessage): Promise<void> {
    let event;
    try {
      event = TenantCreatedEventSchema.safeParse(decodeJson(message.data));
    } catch {
      event = undefined;
    }
    if (event?.success !== true) {
      this.logger.warn(
        { subject: message.subject, streamSequence: message.streamSequence },
        'tenant event can never be applied; terminated',
      );
      message.term();
      return;
    }
    try {
      await this.metadata.ensure(event.data.tenantId);
      message.ack();
      this.logger.info({ tenantId: event.data.tenantId }, 'tenant update repository ready');
    } catch (error) {
      this.logger.error({ err: error, tenantId: event.data.tenantId }, 'tenant repository not made; the event will be redelivered');
      message.nak(RETRY_DELAY_MS);
    }
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
  }
}
