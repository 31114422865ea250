import { MAX_HEARTBEAT_INTERVAL_MS, type DeviceFailureReport, type DeviceHeartbeat } from '@rampart/contracts';
import type { Clock, TimerHandle } from '../device/ports.js';
import type { BootState } from '../mcu/attestation-evidence.js';
import { Flash } from '../mcu/flash.js';
import type { ImageComponent } from '@rampart/trust';
import { secureBoot, type BootResult } from '../mcu/secure-boot.js';
import type { SecuritySubsystem } from '../mcu/security-subsystem.js';
import { AppInstance, DEFAULT_APP_RUNTIME_OPTIONS, type AppConfig, type AppEvent, type AppRuntimeOptions } from './app-runtime.js';
import { Firewall } from './firewall.js';
import { UpdateAgent, type UpdateOutcome, type UpdateState } from './update-agent.js';

/** The clock and randomness the OS runs on. */
export interface OsEnvironment extends Clock {
  readonly random: () => number;
}

/** Where the OS sends what leaves the device. */
export interface OsSinks {
  telemetry(app: string, metrics: Record<string, number>): void;
  failure(report: DeviceFailureReport): void;
  /** Uptime: how long the OS ran, and what ran, since the last heartbeat. */
  heartbeat(heartbeat: DeviceHeartbeat): void;
}

export interface SecureOsOptions {
  /** Per-app settings handed to the app as `rampart.config`. */
  readonly appConfig?: Readonly<Record<string, AppConfig>>;
  readonly runtime?: Partial<AppRuntimeOptions>;
  /** How long an updated component must run without crashing to pass its health check. */
  readonly healthWindowMs?: number;
  /** Power-loss hook for tests: called on entering each update state. */
  readonly onUpdateState?: (state: UpdateState) => void;
  /** How often the OS sends an uptime heartbeat (default hourly, at most hourly). */
  readonly heartbeatIntervalMs?: number;
}

export const DEFAULT_HEALTH_WINDOW_MS = 30_000;
/** A denied call is reported once per app and capability in this window (every one is counted). */
const DENIAL_REPORT_INTERVAL_MS = 60_000;
const FAILURE_SEQ_ENTRY = 'failure-seq';
const HEARTBEAT_SEQ_ENTRY = 'heartbeat-seq';
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 3_600_000;

/**
 * The emulated secure OS: secure boot through the security subsystem, apps
 * each in its own isolated context under their manifests' capabilities, a
 * firewall, an update agent with A/B slots, and failure reports for every
 * crash, watchdog kill, denied call, boot failure and failed update.
 */
export class SecureOs {
  readonly flash: Flash;
  readonly firewall = new Firewall();
  readonly updates: UpdateAgent;
  private readonly apps = new Map<string, AppInstance>();
  private current: BootResult | undefined;
  private readonly lastDenialReport = new Map<string, number>();
  private readonly bootListeners: Array<(result: BootResult) => void> = [];
  private powerLossHook: ((state: UpdateState) => void) | undefined;
  private failureSeq: number;
  private heartbeatSeq: number;
  private heartbeatTimer: TimerHandle | undefined;
  /** Start of the running time the next heartbeat reports; undefined while nothing runs. */
  private runningSince: number | undefined;

  constructor(
    readonly security: SecuritySubsystem,
    private readonly env: OsEnvironment,
    private readonly sinks: OsSinks,
    private readonly options: SecureOsOptions = {},
  ) {
    this.flash = new Flash(security.store);
    this.failureSeq = Number(security.store.read(FAILURE_SEQ_ENTRY)?.toString('utf8') ?? '0');
    this.heartbeatSeq = Number(security.store.read(HEARTBEAT_SEQ_ENTRY)?.toString('utf8') ?? '0');
    const interval = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    if (!(interval > 0 && interval <= MAX_HEARTBEAT_INTERVAL_MS)) {
      throw new RangeError(`heartbeatIntervalMs must be in (0, ${MAX_HEARTBEAT_INTERVAL_MS}]`);
    }
    this.powerLossHook = options.onUpdateState;
    this.updates = new UpdateAgent(security.store, this.flash, security.fuses, {
      reboot: () => this.boot(),
      healthCheck: (component) => this.healthCheck(component),
      onState: (state) => this.powerLossHook?.(state),
    });
  }

  /** Power on: secure boot, start the apps, and finish (or undo) an update a power loss interrupted. */
  async powerOn(): Promise<BootResult> {
    this.boot();
    const outcome = await this.updates.resume(this.current!);
    if (outcome !== undefined) this.reportUpdate(outcome);
    return this.current!;
  }

  /** Stops every app (before power-off or a reboot); the running time so far goes out in a last heartbeat. */
  shutdown(): void {
    this.sendHeartbeat();
    this.env.clearTimer(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.runningSince = undefined;
    for (const app of this.apps.values()) app.stop();
    this.apps.clear();
  }

  get booted(): BootResult {
    if (this.current === undefined) throw new Error('the OS has not booted');
    return this.current;
  }

  /** What attestation evidence reports: the measured boot of the running system. */
  get bootState(): BootState {
    const { bootLog, signers, securityVersions, versions } = this.booted;
    return { bootLog, signers, securityVersions, versions };
  }

  app(name: string): AppInstance | undefined {
    return this.apps.get(name);
  }

  get runningApps(): AppInstance[] {
    return [...this.apps.values()];
  }

  /** Installs an image through the update agent; a refused or rolled-back update is reported. */
  async update(fetch: () => Promise<Uint8Array>, expected: { component: ImageComponent; maxBytes: number }): Promise<UpdateOutcome> {
    const outcome = await this.updates.apply(fetch, expected);
    this.reportUpdate(outcome);
    return outcome;
  }

  /** Rehearsals: called on entering each update state; throwing `PowerLoss` cuts the power there. */
  setPowerLossHook(hook: ((state: UpdateState) => void) | undefined): void {
    this.powerLossHook = hook;
  }

  /** Called after every boot: power-on, reboot, or the update agent's. */
  onBoot(listener: (result: BootResult) => void): void {
    this.bootListeners.push(listener);
  }

  private boot(): BootResult {
    this.shutdown();
    const result = secureBoot(this.flash, this.security.fuses);
    this.current = result;
    this.notifyBoot(result);
    for (const failure of result.failures) {
      this.report({
        kind: 'boot-failure',
        component: failure.stage,
        version: '',
        exitCode: null,
        signal: null,
        message: `${failure.reason}: ${failure.detail}`,
        frames: [],
        detail: { mode: result.mode, ...(failure.slot === undefined ? {} : { slot: failure.slot }) },
      });
    }
    if (result.mode !== 'normal') return result;
    const runtime = { ...DEFAULT_APP_RUNTIME_OPTIONS, ...this.options.runtime };
    for (const { image } of result.apps) {
      const name = image.manifest.component.slice('app:'.length);
      const app = new AppInstance(
        image,
        {
          now: this.env.now,
          random: this.env.random,
          setTimer: this.env.setTimer,
          clearTimer: this.env.clearTimer,
          publishTelemetry: (appName, metrics) => this.sinks.telemetry(appName, metrics),
          sign: (data) => this.security.appSign(data),
          report: (event) => this.onAppEvent(event),
          loadStorage: (appName) => this.loadAppStorage(appName),
          saveStorage: (appName, entries) => this.saveAppStorage(appName, entries),
        },
        this.firewall,
        this.options.appConfig?.[name] ?? {},
        runtime,
      );
      this.apps.set(name, app);
      app.start();
    }
    this.runningSince = this.env.now();
    this.scheduleHeartbeat();
    return result;
  }

  private scheduleHeartbeat(): void {
    this.heartbeatTimer = this.env.setTimer(() => {
      this.sendHeartbeat();
      this.scheduleHeartbeat();
    }, this.options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS);
  }

  /**
   * The OS and each running app, and the time since the last heartbeat.
   * Only a normal boot runs anything; recovery mode sends none (its failure
   * reports say why).
   */
  private sendHeartbeat(): void {
    const from = this.runningSince;
    const booted = this.current;
    if (from === undefined || booted === undefined || booted.mode !== 'normal') return;
    const to = Math.max(from, Math.round(this.env.now()));
    this.runningSince = to;
    if (to === from) return;
    this.heartbeatSeq++;
    this.security.store.write(HEARTBEAT_SEQ_ENTRY, Buffer.from(String(this.heartbeatSeq)));
    this.sinks.heartbeat({
      seq: this.heartbeatSeq,
      from: Math.round(from),
      to,
      running: [
        { component: 'os', version: booted.versions.os },
        ...[...this.apps.values()].map((app) => ({ component: `app:${app.name}`, version: app.version })),
      ].filter((r) => r.version.length > 0),
    });
  }

  /** App storage is sealed: readable only on this device, and only by the OS for that app. */
  private loadAppStorage(app: string): Record<string, string> {
    const sealed = this.security.store.read(`app-storage.${app}`);
    if (sealed === undefined) return {};
    return JSON.parse(this.security.sealed.unseal(`app:${app}`, sealed).toString('utf8')) as Record<string, string>;
  }

  private saveAppStorage(app: string, entries: Record<string, string>): void {
    this.security.store.write(`app-storage.${app}`, this.security.sealed.seal(`app:${app}`, Buffer.from(JSON.stringify(entries))));
  }

  private notifyBoot(result: BootResult): void {
    for (const listener of this.bootListeners) listener(result);
  }

  /** Healthy: booted normally, and an updated app ran the health window without crashing. */
  private async healthCheck(component: ImageComponent): Promise<boolean> {
    if (this.current?.mode !== 'normal') return false;
    const window = this.options.healthWindowMs ?? DEFAULT_HEALTH_WINDOW_MS;
    if (!component.startsWith('app:')) {
      await new Promise<void>((resolve) => this.env.setTimer(resolve, window));
      return this.current.mode === 'normal';
    }
    const app = this.apps.get(component.slice('app:'.length));
    if (app === undefined) return false;
    const before = { crashes: app.stats.crashes, kills: app.stats.watchdogKills };
    await new Promise<void>((resolve) => this.env.setTimer(resolve, window));
    return app.stats.crashes === before.crashes && app.stats.watchdogKills === before.kills;
  }

  private onAppEvent(event: AppEvent): void {
    const component = `app:${event.app}`;
    switch (event.kind) {
      case 'exit':
        return;
      case 'crash':
      case 'watchdog':
        this.report({
          kind: event.kind === 'crash' ? 'app-crash' : 'watchdog-reset',
          component,
          version: event.version,
          exitCode: event.exitCode,
          signal: event.signal,
          message: event.message,
          frames: [...event.frames],
          uptimeMs: Math.max(0, Math.round(event.uptimeMs)),
        });
        return;
      case 'denied': {
        const key = `${event.app}|${event.capability}`;
        const last = this.lastDenialReport.get(key);
        if (last !== undefined && this.env.now() - last < DENIAL_REPORT_INTERVAL_MS) return;
        this.lastDenialReport.set(key, this.env.now());
        this.report({
          kind: 'permission-denied',
          component,
          version: event.version,
          exitCode: null,
          signal: null,
          message: `EPERM: ${event.detail}`,
          frames: [],
          detail: { capability: event.capability },
        });
        return;
      }
    }
  }

  /** An update refused before the agent saw it (its metadata, its download): the active slot was never touched. */
  reportUpdateFailure(component: string, version: string, message: string, detail: Record<string, string>): void {
    this.report({
      kind: 'update-failure',
      component,
      version,
      exitCode: null,
      signal: null,
      message: message.slice(0, 1024),
      frames: [],
      detail,
    });
  }

  private reportUpdate(outcome: UpdateOutcome): void {
    if (outcome.result === 'committed') return;
    this.report({
      kind: 'update-failure',
      component: outcome.component,
      version: outcome.version,
      exitCode: null,
      signal: null,
      message: outcome.reason,
      frames: [],
      detail: { result: outcome.result },
    });
  }

  private report(report: Omit<DeviceFailureReport, 'seq' | 'at'>): void {
    this.failureSeq++;
    // Persisted, so a restarted device never reuses a sequence number (the platform deduplicates on it).
    this.security.store.write(FAILURE_SEQ_ENTRY, Buffer.from(String(this.failureSeq)));
    this.sinks.failure({ ...report, seq: this.failureSeq, at: Math.round(this.env.now()) });
  }
}
