import type { Counter, Meter } from '@opentelemetry/api';
import { DeviceCommandRequestSchema, Subject } from '@rampart/contracts';
import { encodeJson, type Logger, type MessageBus, type TypedBus } from '@rampart/service-kit';
import type { ImagesRepository } from '../images/images.repository.js';
import type { Transactions, Tx } from '../persistence/transactions.js';
import type {
  ActiveDeployment as ActiveRow,
  DeploymentRepository,
  DeploymentState,
  WaveDevice as DeviceRow,
} from './deployment.repository.js';
import { decide, type CrashVerdict, type RolloutDecision, type WaveStats } from './rollout-plan.js';

const HEALTH_TIMEOUT_MS = 3_000;
/** How often devices of an open wave that have not asked are told again. */
const REMIND_MS = 30_000;

/**
 * Drives every active deployment: re-offers to devices that did not answer
 * in time (then times them out), ends expired deferrals, gathers the open
 * waves' results, asks the failures service whether the new versions crash
 * more than the old, and acts on `decide`: open the next wave (and tell its
 * devices over MQTT), complete, pause or abort — with the reason kept.
 * Replicas share the work: each deployment is looked at under a
 * transaction-scoped advisory lock, by one replica at a time.
 */
export class RolloutEngine {
  private readonly decisions: Counter;
  /** When each deployment's waiting devices were last told (per replica; a reminder twice is harmless). */
  private readonly reminded = new Map<string, number>();

  constructor(
    private readonly transactions: Transactions,
    private readonly deployments: DeploymentRepository,
    private readonly images: ImagesRepository,
    private readonly bus: MessageBus,
    private readonly typed: TypedBus,
    private readonly logger: Logger,
    meter: Meter,
  ) {
    this.decisions = meter.createCounter('rampart_updates_rollout_decisions_total', { description: 'Rollout decisions, by action' });
  }

  /**
   * One look at every active deployment, in three steps: under the
   * deployment's lock, tidy its devices and read where they stand; with no
   * transaction open, ask the failures service; under the lock again, act —
   * if the deployment has not moved meanwhile. No transaction is held while
   * another service is asked: on a database that serves one exchange at a
   * time (the embedded mode's PGlite) the failures service's own queries
   * would wait behind it, and the rollout would wait on them until the
   * request timed out, on every tick.
   */
  async tick(): Promise<Array<{ deploymentId: string; decision: RolloutDecision }>> {
    const active = await this.deployments.active();
    const out: Array<{ deploymentId: string; decision: RolloutDecision }> = [];
    for (const deployment of active) {
      const seen = await this.locked(deployment.id, undefined, (tx, d) => this.observe(tx, d));
      if (seen === undefined) continue;
      const { decision, stats } = await this.assess(seen.deployment, seen.rows);
      // Acted on only if no one moved the deployment since it was read (another replica, a person).
      const step = await this.locked(deployment.id, seen.deployment.current_wave, (tx, d) => this.act(tx, d, decision, stats, seen.rows));
      if (step === undefined) continue;
      // Told only once the wave is committed: a device that asks at once must find it open.
      if (step.notify.length > 0) await this.notify(step.notify);
      out.push({ deploymentId: deployment.id, decision });
    }
    return out;
  }

  /**
   * Runs `work` in a transaction holding the deployment's advisory lock, on
   * the deployment read again under it, if it is still active (and still at
   * `wave`, when given); undefined if another replica holds the lock.
   */
  private locked<T>(id: string, wave: number | undefined, work: (tx: Tx, d: ActiveRow) => Promise<T>): Promise<T | undefined> {
    return this.transactions.run(async (tx) => {
      if (!(await this.deployments.tryLockRollout(id, tx))) return undefined;
      const fresh = await this.deployments.activeById(id, wave, tx);
      return fresh === undefined ? undefined : work(tx, fresh);
    });
  }

  /** Tells devices to check for updates now, wherever they are connected. */
  async notify(deviceIds: readonly string[]): Promise<void> {
    for (let i = 0; i < deviceIds.length; i += 10_000) {
      const request = DeviceCommandRequestSchema.parse({ deviceIds: deviceIds.slice(i, i + 10_000), command: 'update-check' });
      await this.bus.broadcast(Subject.gatewayDeviceCommand, encodeJson(request));
    }
  }

  /** Re-offers or times out devices that did not answer, ends expired deferrals; the open waves' devices. */
  private async observe(tx: Tx, d: ActiveRow): Promise<{ deployment: ActiveRow; rows: DeviceRow[] }> {
    const plan = d.rollout;
    const timeoutSecs = plan.deviceTimeoutMinutes * 60;
    await this.deployments.retryOrTimeOutUnanswered(d.id, plan.retries, timeoutSecs, tx);
    await this.deployments.endExpiredDeferrals(d.id, tx);
    return { deployment: d, rows: await this.deployments.openWaveDevices(d.id, d.current_wave, tx) };
  }

  /** The gates' verdict on the open waves, with the failures service's answers (asked outside any transaction). */
  private async assess(d: ActiveRow, rows: readonly DeviceRow[]): Promise<{ decision: RolloutDecision; stats: WaveStats }> {
    const plan = d.rollout;
    const installed = rows.filter((r) => r.state === 'installed').map((r) => r.device_id);
    const count = (state: string, among: readonly DeviceRow[] = rows) => among.filter((r) => r.state === state).length;
    const judged = rows.filter((r) => r.wave >= d.gates_from_wave);
    const [crash, attestationFailures] = await Promise.all([
      plan.gates.crashRate ? this.crashVerdict(d, installed) : Promise.resolve<CrashVerdict>('insufficient-data'),
      this.attestationFailures(
        d,
        judged.filter((r) => r.state === 'installed').map((r) => r.device_id),
      ),
    ]);
    const stats: WaveStats = {
      devices: rows.length,
      installed: installed.length,
      failed: count('failed'),
      timedOut: count('timed-out'),
      waiting: count('pending') + count('notified') + count('deferred'),
      attestationFailures,
      gated: { installed: count('installed', judged), failed: count('failed', judged), timedOut: count('timed-out', judged) },
    };
    const decision = decide(plan, stats, crash, {
      current: d.current_wave,
      waves: d.waves,
      soakedMs: Date.now() - new Date(d.wave_started_at).getTime(),
    });
    this.decisions.add(1, { action: decision.action });
    return { decision, stats };
  }

  private async act(
    tx: Tx,
    d: ActiveRow,
    decision: RolloutDecision,
    stats: WaveStats,
    rows: readonly DeviceRow[],
  ): Promise<{ notify: string[] }> {
    switch (decision.action) {
      case 'wait': {
        // Devices of an open wave that have not asked yet (a notice missed while offline or mid-reboot) are told again, now and then.
        const last = this.reminded.get(d.id) ?? new Date(d.wave_started_at).getTime();
        if (Date.now() - last < REMIND_MS) return { notify: [] };
        this.reminded.set(d.id, Date.now());
        return { notify: rows.filter((r) => r.state === 'pending').map((r) => r.device_id) };
      }
      case 'advance': {
        const next = await this.deployments.openWave(d.id, d.current_wave + 1, tx);
        this.logger.info({ deploymentId: d.id, wave: d.current_wave + 1, devices: next.length, stats }, 'rollout: next wave opened');
        this.reminded.set(d.id, Date.now());
        return { notify: next };
      }
      case 'complete':
        await this.end(tx, d.id, 'completed', 'every wave passed its gates', false);
        this.reminded.delete(d.id);
        return { notify: [] };
      case 'pause':
        await this.end(tx, d.id, 'paused', decision.reason, false);
        this.logger.warn({ deploymentId: d.id, reason: decision.reason, stats }, 'rollout paused by its gates');
        return { notify: [] };
      case 'abort':
        await this.end(tx, d.id, 'aborted', decision.reason, true);
        this.logger.warn({ deploymentId: d.id, reason: decision.reason, stats }, 'rollout aborted by itself');
        this.reminded.delete(d.id);
        // Devices that got it go back to what the group ran before.
        return { notify: rows.filter((r) => r.state !== 'pending').map((r) => r.device_id) };
    }
  }

  private async end(tx: Tx, id: string, state: DeploymentState, reason: string, ends: boolean): Promise<void> {
    await this.deployments.setState(id, state, reason, ends, tx);
  }

  /**
   * The failures service's answer for every component whose version this
   * deployment changes against the one it superseded: the new version on
   * the devices that installed it, against the old on the tenant's fleet.
   */
  private async crashVerdict(d: ActiveRow, installed: readonly string[]): Promise<CrashVerdict> {
    if (installed.length === 0) return 'insufficient-data';
    const previous = await this.deployments.previousImages(d.group_id, d.created_at);
    if (previous === undefined) return 'insufficient-data';
    const versions = async (ids: readonly string[]) => {
      const map = new Map<string, string>();
      for (const sha of ids) {
        const image = await this.images.find(d.tenant_id, sha);
        if (image !== undefined) map.set(image.component, image.version);
      }
      return map;
    };
    const [next, before] = await Promise.all([versions(d.images), versions(previous)]);
    const verdicts: CrashVerdict[] = [];
    for (const [component, version] of next) {
      const old = before.get(component);
      if (old === undefined || old === version) continue;
      try {
        const answer = await this.typed.request(
          Subject.failuresHealthCompare,
          {
            tenantId: d.tenant_id,
            component,
            candidate: { version, deviceIds: [...installed] },
            baseline: { version: old },
            since: new Date(d.created_at).getTime(),
          },
          HEALTH_TIMEOUT_MS,
        );
        verdicts.push(answer.verdict);
      } catch (error) {
        this.logger.warn({ deploymentId: d.id, component, err: (error as Error).message }, 'no crash-rate answer; the rollout waits');
        verdicts.push('unknown');
      }
    }
    if (verdicts.includes('worse')) return 'worse';
    if (verdicts.includes('unknown')) return 'unknown';
    return verdicts.includes('healthy') ? 'healthy' : 'insufficient-data';
  }

  /** Installed devices with an attestation refusal since the deployment began (each device once, whatever its buckets). */
  private async attestationFailures(d: ActiveRow, installed: readonly string[]): Promise<number | undefined> {
    if (installed.length === 0) return 0;
    try {
      const { devicesByKind } = await this.typed.request(
        Subject.failuresBucketsQuery,
        { tenantId: d.tenant_id, since: new Date(d.created_at).getTime(), deviceIds: [...installed], limit: 1 },
        HEALTH_TIMEOUT_MS,
      );
      return devicesByKind['attestation-failure'] ?? 0;
    } catch (error) {
      this.logger.warn({ deploymentId: d.id, err: (error as Error).message }, 'no attestation answer; the rollout waits');
      return undefined;
    }
  }
}
