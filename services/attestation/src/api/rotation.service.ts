import { Subject } from '@rampart/contracts';
import { encodeJson, type Clock, type Logger, type MessageBus } from '@rampart/service-kit';
import type { AttestationRepository } from '../attestation/attestation.repository.js';
import { SigningUnavailableError } from '@rampart/service-kit/signing';
import type { TenantAuthorities } from '../ca/tenant-authorities.js';

/**
 * Tenant CA rotation: on demand (an Administrator) or by policy (daily
 * check, run by `RotationPolicyJob`). Each step is audited and announced on
 * the bus so relying parties refresh their trust bundles.
 */
export class RotationService {
  constructor(
    private readonly repository: AttestationRepository,
    private readonly authorities: TenantAuthorities,
    private readonly bus: MessageBus,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  async prepare(tenantId: string, actor: string): Promise<boolean> {
    const made = await this.authorities.prepareSuccessor(tenantId);
    if (made) await this.record(tenantId, actor, 'ca.successor-created');
    return made;
  }

  async activate(tenantId: string, actor: string): Promise<boolean> {
    const done = await this.repository.activateNextTenantCa(tenantId);
    if (done) await this.record(tenantId, actor, 'ca.rotated');
    return done;
  }

  async runPolicy(): Promise<void> {
    for (const tenantId of await this.repository.tenantIds()) {
      const outcome = await this.authorities.rotateIfDue(tenantId, this.clock.now());
      if (outcome === 'prepared') await this.record(tenantId, 'rotation-policy', 'ca.successor-created');
      if (outcome === 'activated') await this.record(tenantId, 'rotation-policy', 'ca.rotated');
    }
  }

  /**
   * The start-up run: a successor due while the service was down is made
   * before the first device asks. When the CA cannot sign yet (its token
   * away), the service starts anyway, not ready, and this run happens as
   * soon as the CA can sign, not at the next daily check.
   */
  async runPolicyAtStart(): Promise<void> {
    try {
      await this.runPolicy();
    } catch (error) {
      if (!(error instanceof SigningUnavailableError)) throw error;
      this.logger.warn({ err: error, key: error.key }, 'CA rotation deferred until the CA can sign');
      this.authorities.onceSigning(() => {
        this.runPolicy().catch((deferred: unknown) =>
          this.logger.error({ err: deferred }, 'deferred CA rotation failed; the rotation policy job runs it again'),
        );
      });
    }
  }

  private async record(tenantId: string, actor: string, action: string): Promise<void> {
    await this.repository.audit({ tenantId, actor, action, subject: tenantId });
    await this.bus.broadcast(Subject.attestationCaRotated, encodeJson({ tenantId, action }));
    this.logger.info({ tenantId, action }, 'tenant CA rotation');
  }
}
