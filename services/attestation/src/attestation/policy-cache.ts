import type { AttestationRepository } from './attestation.repository.js';
import type { AttestationPolicy } from './evidence-verifier.js';

/** How long a replica may act on a policy read before reading it again. */
export const POLICY_CACHE_TTL_MS = 2_000;
/** Distinct boot logs remembered at once; a fleet runs few image combinations. */
const MAX_ENTRIES = 1_000;

/**
 * The policy (known-good measurements and floors) for each distinct boot
 * log, read once per `POLICY_CACHE_TTL_MS` instead of once per attestation:
 * a fleet boots the same few image sets, so nearly every lookup is a hit.
 * A change made through this replica applies at once (`invalidate`); one
 * made through another replica within the TTL — a measurement revoked, a
 * floor raised — so every replica refuses within seconds.
 */
export class PolicyCache {
  private readonly entries = new Map<string, { readAt: number; policy: Promise<AttestationPolicy> }>();

  constructor(
    private readonly repository: AttestationRepository,
    private readonly clock: () => number = Date.now,
  ) {}

  policyFor(bootLog: ReadonlyArray<{ stage: string; sha256: string }>): Promise<AttestationPolicy> {
    const key = bootLog.map((m) => `${m.stage}|${m.sha256}`).join('\n');
    const now = this.clock();
    const cached = this.entries.get(key);
    if (cached !== undefined && now - cached.readAt < POLICY_CACHE_TTL_MS) return cached.policy;
    if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
    const policy = this.repository.policyFor(bootLog);
    this.entries.set(key, { readAt: now, policy });
    // A failed read is not remembered.
    policy.catch(() => {
      if (this.entries.get(key)?.policy === policy) this.entries.delete(key);
    });
    return policy;
  }

  invalidate(): void {
    this.entries.clear();
  }
}
