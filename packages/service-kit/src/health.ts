/**
 * Readiness: each dependency registers a probe; `/readyz` is ready only when
 * all pass. Liveness (`/healthz`) only says the event loop answers.
 */
export type ReadinessProbe = () => Promise<void>;

export interface ReadinessReport {
  readonly ready: boolean;
  readonly checks: Record<string, { ok: boolean; error?: string }>;
}

export const DEFAULT_PROBE_TIMEOUT_MS = 2_000;

export class Readiness {
  private readonly probes = new Map<string, ReadinessProbe>();
  private shuttingDown = false;

  register(name: string, probe: ReadinessProbe): void {
    this.probes.set(name, probe);
  }

  /** Once shutdown starts, readiness fails so load balancers stop sending work. */
  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  async report(timeoutMs = DEFAULT_PROBE_TIMEOUT_MS): Promise<ReadinessReport> {
    const checks: ReadinessReport['checks'] = {};
    if (this.shuttingDown) checks['shutdown'] = { ok: false, error: 'shutting down' };
    await Promise.all(
      [...this.probes].map(async ([name, probe]) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            probe(),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
            }),
          ]);
          checks[name] = { ok: true };
        } catch (error) {
          checks[name] = { ok: false, error: error instanceof Error ? error.message : String(error) };
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }
}
