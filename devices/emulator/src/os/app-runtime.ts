import { createHash } from 'node:crypto';
import vm from 'node:vm';
import type { AppCapabilities, SignedImage } from '@rampart/trust';
import type { TimerHandle } from '../device/ports.js';
import type { Firewall } from './firewall.js';
import { CallbackBatches } from './callback-batches.js';
import { appFrames, type StackFrame } from './stack-frames.js';

/** What the OS lends the app runtime: time, timers, and the platform services apps may be granted. */
export interface AppHost {
  now(): number;
  setTimer(fn: () => void, ms: number): TimerHandle;
  clearTimer(timer: TimerHandle | undefined): void;
  random(): number;
  publishTelemetry(app: string, metrics: Record<string, number>): void;
  /**
   * The device key signs on the app's behalf (device authentication) over `appSignedBytes(data)`, never data alone
   * (the same key signs attestation tokens); the key never reaches the app.
   */
  sign(data: Uint8Array): Buffer;
  /** An app's exit, crash, watchdog kill or denied call. */
  report(event: AppEvent): void;
  /** The app's persistent storage (sealed by the OS); survives app restarts and reboots. */
  loadStorage(app: string): Record<string, string>;
  saveStorage(app: string, entries: Record<string, string>): void;
}

export type AppEvent =
  | {
      readonly kind: 'crash' | 'watchdog';
      readonly app: string;
      readonly version: string;
      readonly exitCode: number | null;
      readonly signal: string | null;
      readonly message: string;
      readonly frames: readonly StackFrame[];
      readonly uptimeMs: number;
    }
  | { readonly kind: 'exit'; readonly app: string; readonly version: string; readonly exitCode: 0; readonly uptimeMs: number }
  | { readonly kind: 'denied'; readonly app: string; readonly version: string; readonly capability: string; readonly detail: string };

export interface AppRuntimeOptions {
  /** Longest one app callback may run before the watchdog kills the app. */
  readonly callbackBudgetMs: number;
  /** First restart delay; doubled after each exit, up to `maxRestartDelayMs`. */
  readonly restartDelayMs: number;
  readonly maxRestartDelayMs: number;
  /** An app running this long without exiting has its restart delay reset. */
  readonly stableAfterMs: number;
}

export const DEFAULT_APP_RUNTIME_OPTIONS: AppRuntimeOptions = {
  callbackBudgetMs: 200,
  restartDelayMs: 1_000,
  maxRestartDelayMs: 60_000,
  stableAfterMs: 60_000,
};

/** Per-app configuration handed to the app as `rampart.config` (e.g. a crash rate for rollout rehearsals). */
export type AppConfig = Readonly<Record<string, string | number | boolean>>;

export interface AppStats {
  starts: number;
  crashes: number;
  watchdogKills: number;
  exits: number;
  denied: number;
}

/** An error like the one a POSIX call returns when it is not permitted. */
function eperm(what: string): Error & { code: string; errno: number } {
  return Object.assign(new Error(`EPERM: operation not permitted, ${what}`), { code: 'EPERM', errno: -1 });
}

class AppKilled extends Error {}

/** Every app callback of the process runs through these: one V8 time limit per batch, not per call. */
const callbackBatches = new CallbackBatches();

/** Compiled app code by its bytes: a fleet boots the same image thousands of times, and compiling is the costly part. */
const compiledApps = new Map<string, vm.Script>();
const MAX_COMPILED_APPS = 64;

function compiledApp(payload: Buffer, filename: string): vm.Script {
  const key = `${filename}\u0000${createHash('sha256').update(payload).digest('hex')}`;
  let script = compiledApps.get(key);
  if (script === undefined) {
    if (compiledApps.size >= MAX_COMPILED_APPS) compiledApps.delete(compiledApps.keys().next().value!);
    script = new vm.Script(payload.toString('utf8'), { filename });
    compiledApps.set(key, script);
  }
  return script;
}

/**
 * One app, isolated in its own V8 context: it sees only the `rampart`
 * object, whose methods check the capabilities in the app's signed
 * manifest. A denied call throws (or rejects with) an EPERM error and is
 * counted and reported. A thrown exception or rejected promise is a crash
 * (exit code 1), a callback over its time budget or a missed watchdog kick
 * is a watchdog kill (SIGKILL); either way the app is restarted with
 * exponential backoff.
 *
 * Why a V8 context and not a worker thread: measured here, a context costs
 * ~160 KiB of heap and 0.5 ms to create, a worker ~10 MB and tens of ms —
 * and a fleet runs thousands of devices per process. The price is that an
 * app shares the event loop: the per-callback time budget (enforced by V8,
 * see CallbackBatches) is what keeps a runaway app from stalling its
 * neighbours.
 */
export class AppInstance {
  readonly name: string;
  readonly version: string;
  readonly stats: AppStats = { starts: 0, crashes: 0, watchdogKills: 0, exits: 0, denied: 0 };
  private readonly capabilities: AppCapabilities;
  private readonly file: string;
  private context: vm.Context | undefined;
  private timers = new Set<TimerHandle>();
  private restartTimer: TimerHandle | undefined;
  private watchdogTimer: TimerHandle | undefined;
  private lastKick = 0;
  private startedAt = 0;
  private restartDelay: number;
  private storageUsed = 0;
  private readonly storage = new Map<string, string>();
  state: 'running' | 'waiting-restart' | 'stopped' = 'stopped';

  constructor(
    private readonly image: SignedImage,
    private readonly host: AppHost,
    private readonly firewall: Firewall,
    private readonly config: AppConfig,
    private readonly options: AppRuntimeOptions,
  ) {
    this.name = image.manifest.component.slice('app:'.length);
    this.version = image.manifest.version;
    this.capabilities = image.manifest.capabilities ?? { allowedHosts: [], telemetry: false, storageQuotaBytes: 0, deviceAuth: false };
    this.file = `${image.manifest.component}@${this.version}`;
    this.restartDelay = options.restartDelayMs;
    firewall.allow(this.name, this.capabilities.allowedHosts);
    for (const [k, v] of Object.entries(host.loadStorage(this.name))) {
      this.storage.set(k, v);
      this.storageUsed += byteLength(k, v);
    }
  }

  start(): void {
    if (this.state === 'running') return;
    this.state = 'running';
    this.stats.starts++;
    this.startedAt = this.host.now();
    this.lastKick = this.startedAt;
    this.context = vm.createContext(
      { rampart: this.api() },
      {
        name: this.file,
        codeGeneration: { strings: false, wasm: false },
      },
    );
    try {
      this.returned(compiledApp(this.image.payload, this.file).runInContext(this.context, { timeout: this.options.callbackBudgetMs }));
    } catch (error) {
      this.exited(error);
    }
    if (this.capabilities.watchdogMs !== undefined && this.state === 'running') this.armWatchdog(this.capabilities.watchdogMs);
  }

  stop(): void {
    this.teardown();
    this.host.clearTimer(this.restartTimer);
    this.state = 'stopped';
  }

  private teardown(): void {
    for (const timer of this.timers) this.host.clearTimer(timer);
    this.timers.clear();
    this.host.clearTimer(this.watchdogTimer);
    this.context = undefined;
  }

  /** The only door out of the context; every call is checked against the manifest. */
  private api(): Record<string, unknown> {
    const deny = (capability: string, detail: string): Error => {
      this.stats.denied++;
      this.host.report({ kind: 'denied', app: this.name, version: this.version, capability, detail });
      return eperm(detail);
    };
    const alive = () => this.state === 'running';
    return Object.freeze({
      config: Object.freeze({ ...this.config }),
      random: () => this.host.random(),
      now: () => this.host.now(),
      telemetry: Object.freeze({
        publish: (metrics: Record<string, number>) => {
          if (!this.capabilities.telemetry) throw deny('telemetry', 'telemetry publish');
          // Namespaced by app, in the platform's metric-name alphabet; anything else is dropped.
          const clean: Record<string, number> = {};
          const prefix = this.name.replaceAll('-', '_');
          for (const [k, v] of Object.entries(metrics ?? {})) {
            if (typeof v === 'number' && Number.isFinite(v) && /^[a-z][a-z0-9_]{0,40}$/.test(k)) clean[`${prefix}.${k}`] = v;
          }
          if (alive() && Object.keys(clean).length > 0) this.host.publishTelemetry(this.name, clean);
        },
      }),
      net: Object.freeze({
        /** The emulated network answers permitted requests locally; the firewall decision is the point. */
        request: (host: string, path = '/') => {
          if (typeof host !== 'string' || !this.firewall.permits(this.name, host)) {
            return Promise.reject(deny('network', `connect ${String(host)}`));
          }
          return Promise.resolve(Object.freeze({ status: 200, host, path: String(path) }));
        },
      }),
      storage: Object.freeze({
        get: (key: string) => this.storage.get(String(key)),
        set: (key: string, value: string) => {
          const k = String(key);
          const v = String(value);
          const next = this.storageUsed - byteLength(k, this.storage.get(k)) + byteLength(k, v);
          if (next > this.capabilities.storageQuotaBytes)
            throw deny('storage', `write ${k} (quota ${this.capabilities.storageQuotaBytes} bytes)`);
          this.storage.set(k, v);
          this.storageUsed = next;
          this.host.saveStorage(this.name, Object.fromEntries(this.storage));
        },
      }),
      auth: Object.freeze({
        sign: (text: string) => {
          if (!this.capabilities.deviceAuth) throw deny('device-auth', 'sign with the device key');
          return this.host.sign(Buffer.from(String(text))).toString('base64');
        },
      }),
      timers: Object.freeze({
        every: (ms: number, fn: () => unknown) => this.schedule(fn, Math.max(10, Number(ms) || 0), true),
        after: (ms: number, fn: () => unknown) => this.schedule(fn, Math.max(0, Number(ms) || 0), false),
      }),
      watchdog: Object.freeze({ kick: () => void (this.lastKick = this.host.now()) }),
      exit: (code: number) => {
        const exit = new AppExit(Number.isInteger(code) ? code : 1);
        // Exits now, whatever the app does with the throw (it cannot catch its way out of an exit).
        this.exited(exit);
        throw exit;
      },
    });
  }

  private schedule(fn: () => unknown, ms: number, repeat: boolean): void {
    if (typeof fn !== 'function' || this.state !== 'running') return;
    const run = () => {
      this.timers.delete(timer);
      if (this.state !== 'running') return;
      const context = this.context;
      const current = () => this.state === 'running' && this.context === context;
      callbackBatches.enqueue({
        budgetMs: this.options.callbackBudgetMs,
        fn: fn,
        live: current,
        returned: (result) => this.returned(result),
        threw: (error) => this.exited(error),
        overran: (error) => {
          if (current()) this.exited(error);
        },
      });
      if (repeat) {
        timer = this.host.setTimer(run, ms);
        this.timers.add(timer);
      }
    };
    let timer = this.host.setTimer(run, ms);
    this.timers.add(timer);
  }

  /** An async callback's rejection is a crash like a thrown error. */
  private returned(result: unknown): void {
    if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
      const context = this.context;
      // A late rejection from an app since restarted must not kill its successor.
      (result as Promise<unknown>).then(undefined, (error: unknown) => {
        if (this.context === context) this.exited(error);
      });
    }
  }

  private armWatchdog(periodMs: number): void {
    this.watchdogTimer = this.host.setTimer(() => {
      if (this.state !== 'running') return;
      if (this.host.now() - this.lastKick > periodMs) {
        this.exited(new AppKilled(`watchdog not kicked for ${periodMs} ms`));
        return;
      }
      this.armWatchdog(periodMs);
    }, periodMs);
  }

  private exited(error: unknown): void {
    if (this.state !== 'running') return;
    const uptimeMs = this.host.now() - this.startedAt;
    this.teardown();
    if (error instanceof AppExit && error.code === 0) {
      this.stats.exits++;
      this.host.report({ kind: 'exit', app: this.name, version: this.version, exitCode: 0, uptimeMs });
    } else {
      const timedOut = error instanceof AppKilled || (error as { code?: string } | null)?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
      if (timedOut) this.stats.watchdogKills++;
      else this.stats.crashes++;
      const exitCode = error instanceof AppExit ? error.code : timedOut ? null : 1;
      // Errors made inside the app's context are not `instanceof Error` here (another realm): read them by shape.
      const shaped = error !== null && typeof error === 'object' ? (error as { name?: unknown; message?: unknown; stack?: unknown }) : {};
      const message =
        typeof shaped.message === 'string'
          ? `${typeof shaped.name === 'string' ? shaped.name : 'Error'}: ${shaped.message}`
          : `uncaught ${String(error)}`;
      this.host.report({
        kind: timedOut ? 'watchdog' : 'crash',
        app: this.name,
        version: this.version,
        exitCode,
        signal: timedOut ? 'SIGKILL' : null,
        message: message.slice(0, 1024),
        frames: appFrames(typeof shaped.stack === 'string' ? shaped.stack : undefined, this.file),
        uptimeMs,
      });
    }
    if (uptimeMs >= this.options.stableAfterMs) this.restartDelay = this.options.restartDelayMs;
    this.state = 'waiting-restart';
    const delay = this.restartDelay;
    this.restartDelay = Math.min(this.options.maxRestartDelayMs, this.restartDelay * 2);
    this.restartTimer = this.host.setTimer(() => {
      if (this.state === 'waiting-restart') this.start();
    }, delay);
  }
}

class AppExit extends Error {
  constructor(readonly code: number) {
    super(`exit(${code})`);
  }
}

function byteLength(key: string, value: string | undefined): number {
  return value === undefined ? 0 : Buffer.byteLength(key) + Buffer.byteLength(value);
}
