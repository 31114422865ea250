import { Subject } from '@rampart/contracts';
import type { Logger, TypedBus } from '@rampart/service-kit';

/** Claims are permanent, so a device's tenant, once known, is remembered (up to this many devices). */
const TENANT_CACHE_SIZE = 100_000;
const TENANT_LOOKUP_TIMEOUT_MS = 2_000;

/**
 * The tenant that claimed a device, asked of the attestation service, for
 * what a device sends before it holds an operational certificate (which
 * names the tenant). Unknown or unreachable: null, and the caller keeps
 * what it has without a tenant.
 */
export class DeviceTenants {
  private readonly known = new Map<string, string>();

  constructor(
    private readonly bus: TypedBus,
    private readonly logger: Logger,
  ) {}

  /** Looks up, at once, every device in `deviceIds` not known yet. */
  async learn(deviceIds: Iterable<string>): Promise<void> {
    const unknown = [...new Set(deviceIds)].filter((id) => !this.known.has(id));
    await Promise.all(
      unknown.map(async (deviceId) => {
        try {
          const { tenantId } = await this.bus.request(Subject.attestationDeviceTenant, { deviceId }, TENANT_LOOKUP_TIMEOUT_MS);
          if (tenantId === null) return;
          if (this.known.size >= TENANT_CACHE_SIZE) this.known.delete(this.known.keys().next().value!);
          this.known.set(deviceId, tenantId);
        } catch (error) {
          this.logger.warn({ deviceId, err: (error as Error).message }, 'tenant of a device not found; kept without one');
        }
      }),
    );
  }

  /** The tenant `learn` found, or null. */
  of(deviceId: string): string | null {
    return this.known.get(deviceId) ?? null;
  }
}
