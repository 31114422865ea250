/**
 * Is a new version's crash rate worse than its baseline's?
 *
 * Crashes are counted against exposure — device-hours of uptime — because
 * cohorts differ in size and in how long they have run: a rollout's first
 * wave is small and young. Crashes in a cohort are modelled as a Poisson
 * process with rate λ per device-hour. The test is the exact conditional
 * test for two Poisson rates (Przyborowski & Wilenski, 1940): given the
 * total K = k_new + k_base, k_new is Binomial(K, p) with
 * p = m·T_new / (m·T_new + T_base) when λ_new = m·λ_base. H0 is
 * λ_new ≤ m·λ_base (m ≥ 1 is the tolerated ratio), H1 that it is worse; the
 * p-value is P(X ≥ k_new). Why this test: it is exact at any sample size
 * (no normal approximation for the handful of crashes an early wave has),
 * uniformly most powerful unbiased for this one-sided question, and it uses
 * exposure directly, so a small young cohort is compared fairly with a
 * large old one.
 *
 * A minimum sample guards both ways: with too little exposure or too few
 * expected crashes the answer is `insufficient-data`, never `healthy` — a
 * rollout gate must wait rather than pass on nothing.
 */
export interface Cohort {
  /** Crashes counted. */
  readonly crashes: number;
  /** Exposure in device-hours. */
  readonly deviceHours: number;
}

export interface CrashRateTestOptions {
  /** Significance level: the chance of flagging a version that is no worse. */
  readonly alpha: number;
  /** Tolerated ratio: the new version may crash this many times as often as the baseline. */
  readonly toleratedRatio: number;
  /** Least exposure of the new cohort before any answer. */
  readonly minDeviceHours: number;
  /** Least crashes expected in the new cohort at the baseline rate (with the tolerance) before a "healthy" answer. */
  readonly minExpectedCrashes: number;
}

export const DEFAULT_CRASH_RATE_TEST: CrashRateTestOptions = {
  alpha: 0.01,
  toleratedRatio: 1,
  minDeviceHours: 100,
  minExpectedCrashes: 5,
};

export type HealthVerdict = 'worse' | 'healthy' | 'insufficient-data';

export interface CrashRateAnswer {
  readonly verdict: HealthVerdict;
  readonly pValue: number | null;
  readonly rateNew: number | null;
  readonly rateBaseline: number | null;
  /** The new cohort's crashes expected at the tolerated baseline rate. */
  readonly expectedCrashes: number | null;
  readonly reason: string;
  readonly test: 'exact conditional binomial test of two Poisson rates (one-sided)';
}

const TEST_NAME = 'exact conditional binomial test of two Poisson rates (one-sided)' as const;

function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9): |error| < 1e-13 for x > 0.
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += c[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** P(X ≥ k) for X ~ Binomial(n, p), summed in log space so thousands of crashes do not overflow. */
export function binomialUpperTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  if (p <= 0) return 0;
  if (p >= 1) return 1;
  const logP = Math.log(p);
  const logQ = Math.log1p(-p);
  const logChoose = (i: number) => logGamma(n + 1) - logGamma(i + 1) - logGamma(n - i + 1);
  let max = -Infinity;
  const terms: number[] = [];
  for (let i = k; i <= n; i++) {
    const term = logChoose(i) + i * logP + (n - i) * logQ;
    terms.push(term);
    if (term > max) max = term;
  }
  const sum = terms.reduce((acc, term) => acc + Math.exp(term - max), 0);
  return Math.min(1, Math.exp(max) * sum);
}

export function compareCrashRates(
  candidate: Cohort,
  baseline: Cohort,
  options: CrashRateTestOptions = DEFAULT_CRASH_RATE_TEST,
): CrashRateAnswer {
  const valid = (c: Cohort) => Number.isInteger(c.crashes) && c.crashes >= 0 && Number.isFinite(c.deviceHours) && c.deviceHours >= 0;
  if (!valid(candidate) || !valid(baseline)) throw new RangeError('crashes must be non-negative integers and device-hours non-negative');
  const base = {
    verdict: 'insufficient-data' as HealthVerdict,
    pValue: null,
    rateNew: null,
    rateBaseline: null,
    expectedCrashes: null,
    test: TEST_NAME,
  };
  if (candidate.deviceHours < options.minDeviceHours) {
    return {
      ...base,
      reason: `the new cohort has ${candidate.deviceHours.toFixed(1)} device-hours; at least ${options.minDeviceHours} are needed`,
    };
  }
  if (baseline.deviceHours <= 0) return { ...base, reason: 'the baseline has no exposure' };
  const rateNew = candidate.crashes / candidate.deviceHours;
  const rateBaseline = baseline.crashes / baseline.deviceHours;
  // With no baseline crashes the rate is estimated as at most one crash over its exposure (a conservative floor).
  const baselineRate = Math.max(rateBaseline, 1 / baseline.deviceHours);
  const expectedCrashes = options.toleratedRatio * baselineRate * candidate.deviceHours;
  const weighted = options.toleratedRatio * candidate.deviceHours;
  const p = weighted / (weighted + baseline.deviceHours);
  const pValue = binomialUpperTail(candidate.crashes, candidate.crashes + baseline.crashes, p);
  const figures = { pValue, rateNew, rateBaseline, expectedCrashes, test: TEST_NAME };
  if (pValue < options.alpha) {
    return {
      ...figures,
      verdict: 'worse',
      reason: `crash rate ${fmt(rateNew)} vs ${fmt(rateBaseline)} per device-hour (p = ${pValue.toPrecision(3)} < ${options.alpha})`,
    };
  }
  if (expectedCrashes < options.minExpectedCrashes) {
    return {
      ...figures,
      verdict: 'insufficient-data',
      reason: `${expectedCrashes.toFixed(1)} crashes expected at the baseline rate; at least ${options.minExpectedCrashes} are needed to call it healthy`,
    };
  }
  return { ...figures, verdict: 'healthy', reason: `no evidence it is worse (p = ${pValue.toPrecision(3)})` };
}

function fmt(rate: number): string {
  return rate.toPrecision(3);
}
