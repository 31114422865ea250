import { createHash } from 'node:crypto';
import { z } from 'zod';

const ratio = z.number().min(0).max(1);

/** AWS IoT Jobs' abort criterion: once `minExecuted` devices finished, abort when this share of them failed this way. */
export const AbortCriterionSchema = z
  .object({
    failureType: z.enum(['FAILED', 'TIMED_OUT', 'ALL']),
    minExecuted: z.number().int().min(1).max(1_000_000),
    thresholdPercentage: z.number().gt(0).max(100),
  })
  .strict();
export type AbortCriterion = z.infer<typeof AbortCriterionSchema>;

/** How a deployment reaches its group: in waves, each gated on the health of those before. */
export const RolloutPlanSchema = z
  .object({
    waves: z
      .discriminatedUnion('kind', [
        /** Cumulative shares of the group, rising, the last 100 (e.g. 1, 10, 50, 100). */
        z
          .object({ kind: z.literal('percent'), percents: z.array(z.number().gt(0).max(100)).min(1).max(20) })
          .strict()
          .refine((w) => w.percents.every((p, i) => i === 0 || p > w.percents[i - 1]!) && w.percents.at(-1) === 100, {
            message: 'percents must rise and end at 100',
          }),
        /** `first` devices, then `factor` times as many in each next wave. */
        z.object({ kind: z.literal('exponential'), first: z.number().int().min(1), factor: z.number().min(1.1).max(10) }).strict(),
      ])
      .default({ kind: 'percent', percents: [100] }),
    /** After every device of a wave answered, wait this long before the next opens. */
    soakMinutes: z
      .number()
      .min(0)
      .max(7 * 24 * 60)
      .default(0),
    gates: z
      .object({
        /** Share of a wave's finished devices that must have installed. */
        minInstallSuccess: ratio.default(0.9),
        /** Share of installed devices that must not have failed attestation since. */
        minAttestationPass: ratio.default(0.95),
        /** Abort when the failures service finds the new version's crash rate worse than the old one's. */
        crashRate: z.boolean().default(true),
      })
      .strict()
      .default({ minInstallSuccess: 0.9, minAttestationPass: 0.95, crashRate: true }),
    abort: z
      .array(AbortCriterionSchema)
      .max(5)
      .default([{ failureType: 'ALL', minExecuted: 10, thresholdPercentage: 20 }]),
    /** A device that was offered the update and has not answered in this long is offered it again, `retries` times, then timed out. */
    deviceTimeoutMinutes: z
      .number()
      .min(0.01)
      .max(7 * 24 * 60)
      .default(60),
    retries: z.number().int().min(0).max(10).default(1),
  })
  .strict();
export type RolloutPlan = z.infer<typeof RolloutPlanSchema>;

/**
 * Which wave (0-based) each device is in: the group's devices in an order
 * fixed by the deployment id (so every replica computes the same, and no
 * device is always first), cut at the plan's cumulative sizes.
 */
export function assignWaves(
  deploymentId: string,
  deviceIds: readonly string[],
  plan: RolloutPlan,
): { waves: number; wave: Map<string, number> } {
  const order = [...deviceIds].sort((a, b) => rank(deploymentId, a).localeCompare(rank(deploymentId, b)));
  const ends = waveEnds(order.length, plan);
  const wave = new Map<string, number>();
  let w = 0;
  order.forEach((id, i) => {
    while (i >= ends[w]!) w++;
    wave.set(id, w);
  });
  return { waves: ends.length, wave };
}

function rank(seed: string, id: string): string {
  return createHash('sha256').update(seed).update(id).digest('hex');
}

/** Cumulative device counts at the end of each wave (at least one wave, even for an empty group). */
export function waveEnds(devices: number, plan: RolloutPlan): number[] {
  if (plan.waves.kind === 'percent') {
    const ends = plan.waves.percents.map((p) => Math.max(1, Math.ceil((p / 100) * devices)));
    return ends.filter((end, i) => i === ends.length - 1 || end < ends[i + 1]!).map((e) => Math.min(e, Math.max(devices, 1)));
  }
  const ends: number[] = [];
  let size = plan.waves.first;
  let total = 0;
  do {
    total = Math.min(devices, total + Math.round(size));
    ends.push(Math.max(total, 1));
    size *= plan.waves.factor;
  } while (total < devices);
  return ends;
}

/** How the devices of the open waves stand. */
export interface WaveStats {
  readonly devices: number;
  readonly installed: number;
  readonly failed: number;
  readonly timedOut: number;
  /** Not answered yet: pending, offered, deferred. */
  readonly waiting: number;
  /** Installed devices (of `gated`'s waves) that failed attestation since; undefined when the failures service did not answer. */
  readonly attestationFailures: number | undefined;
  /**
   * The devices the install and attestation gates judge: those of the waves
   * opened since a person last resumed the deployment, whose resume accepted
   * the shortfall that paused it (judged again, it would pause it again at
   * once). Absent: every device of the open waves.
   */
  readonly gated?: { readonly installed: number; readonly failed: number; readonly timedOut: number };
}

export type CrashVerdict = 'worse' | 'healthy' | 'insufficient-data' | 'unknown';

export type RolloutDecision =
  | { readonly action: 'wait'; readonly why: string }
  | { readonly action: 'advance' }
  | { readonly action: 'complete' }
  | { readonly action: 'pause'; readonly reason: string }
  | { readonly action: 'abort'; readonly reason: string };

/**
 * One look at a rolling deployment. Abort criteria first (they hold at any
 * moment), then the crash-rate answer (worse aborts; too little data is
 * not evidence of harm and does not hold a wave back; no answer waits),
 * then, once every device of the open waves answered and the soak passed,
 * the install and attestation gates (on `stats.gated`): short of either
 * pauses for a person.
 */
export function decide(
  plan: RolloutPlan,
  stats: WaveStats,
  crash: CrashVerdict,
  wave: { current: number; waves: number; soakedMs: number },
): RolloutDecision {
  const executed = stats.installed + stats.failed + stats.timedOut;
  for (const criterion of plan.abort) {
    const failures =
      criterion.failureType === 'FAILED'
        ? stats.failed
        : criterion.failureType === 'TIMED_OUT'
          ? stats.timedOut
          : stats.failed + stats.timedOut;
    if (executed >= criterion.minExecuted && (failures * 100) / executed >= criterion.thresholdPercentage) {
      return {
        action: 'abort',
        reason: `${failures} of ${executed} devices ${criterion.failureType === 'ALL' ? 'failed or timed out' : criterion.failureType === 'FAILED' ? 'failed' : 'timed out'} (abort at ${criterion.thresholdPercentage} % after ${criterion.minExecuted})`,
      };
    }
  }
  if (plan.gates.crashRate && crash === 'worse')
    return { action: 'abort', reason: 'the new version crashes more than the one it replaces' };
  if (stats.waiting > 0) return { action: 'wait', why: `${stats.waiting} devices have not answered` };
  if (plan.gates.crashRate && crash === 'unknown') return { action: 'wait', why: 'no crash-rate answer from the failures service' };
  if (stats.attestationFailures === undefined) return { action: 'wait', why: 'no attestation answer from the failures service' };
  const gated = stats.gated ?? stats;
  const judged = gated.installed + gated.failed + gated.timedOut;
  const finished = judged === 0 ? 1 : gated.installed / judged;
  if (judged > 0 && finished < plan.gates.minInstallSuccess) {
    return { action: 'pause', reason: `install success ${(finished * 100).toFixed(1)} % is below ${plan.gates.minInstallSuccess * 100} %` };
  }
  const attested = gated.installed === 0 ? 1 : 1 - stats.attestationFailures / gated.installed;
  if (attested < plan.gates.minAttestationPass) {
    return {
      action: 'pause',
      reason: `attestation after update ${(attested * 100).toFixed(1)} % is below ${plan.gates.minAttestationPass * 100} %`,
    };
  }
  if (wave.soakedMs < plan.soakMinutes * 60_000) return { action: 'wait', why: 'soaking' };
  return wave.current + 1 >= wave.waves ? { action: 'complete' } : { action: 'advance' };
}
