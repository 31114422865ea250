import { DeviceRevocationEventSchema, Subject } from '@rampart/contracts';
import type { Closable, MessageBus } from './bus/message-bus.js';
import { decodeJson, type TypedBus } from './bus/typed-bus.js';
import type { Logger } from './logger.js';

/** How often a gateway that could not load the deny-list at start tries again. */
const RETRY_MS = 5_000;

/**
 * The deny-list of revoked devices, for every service that serves devices
 * (the gateway, the update server): loaded from the attestation service at
 * start, kept current by revocation events that reach every replica. A
 * revoked device is refused on its operational certificate until
 * un-revoked; `onRevoked` lets a gateway disconnect it at once.
 */
export class RevocationWatcher {
  private readonly revoked = new Set<string>();
  private subscription: Closable | undefined;
  private retry: NodeJS.Timeout | undefined;
  loaded = false;

  constructor(
    private readonly bus: MessageBus,
    private readonly typed: TypedBus,
    private readonly logger: Logger,
    private readonly onRevoked: (deviceId: string) => void,
  ) {}

  async start(): Promise<void> {
    this.subscription = await this.bus.listen(Subject.attestationDeviceRevocation, (data) => {
      let event;
      try {
        event = DeviceRevocationEventSchema.parse(decodeJson(data));
      } catch (error) {
        this.logger.warn({ err: error }, 'malformed revocation event ignored');
        return;
      }
      if (event.revoked) {
        this.revoked.add(event.deviceId);
        this.logger.warn({ deviceId: event.deviceId, reason: event.reason }, 'device revoked: disconnecting');
        this.onRevoked(event.deviceId);
      } else {
        this.revoked.delete(event.deviceId);
      }
    });
    await this.load();
  }

  /** Never throws: without the attestation service the list stays empty and is retried. */
  private async load(): Promise<void> {
    try {
      const { deviceIds } = await this.typed.request(Subject.attestationRevocationsList, {});
      for (const id of deviceIds) this.revoked.add(id);
      this.loaded = true;
    } catch (error) {
      this.logger.warn({ err: (error as Error).message }, 'revocation list unavailable; retrying (events still apply)');
      this.retry = setTimeout(() => void this.load(), RETRY_MS);
      this.retry.unref();
    }
  }

  isRevoked(deviceId: string): boolean {
    return this.revoked.has(deviceId);
  }

  async stop(): Promise<void> {
    clearTimeout(this.retry);
    await this.subscription?.close();
  }
}
