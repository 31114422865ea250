import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { demoKnownGood } from '@rampart/emulator';
import type { TestPki } from '@rampart/testing';
import { expect } from 'vitest';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export const ENTRY = {
  gateway: `${REPO_ROOT}services/gateway/dist/main.js`,
  telemetry: `${REPO_ROOT}services/telemetry/dist/main.js`,
  attestation: `${REPO_ROOT}services/attestation/dist/main.js`,
  failures: `${REPO_ROOT}services/failures/dist/main.js`,
  updates: `${REPO_ROOT}services/updates/dist/main.js`,
  api: `${REPO_ROOT}services/api/dist/main.js`,
  cli: `${REPO_ROOT}apps/cli/dist/main.js`,
} as const;

type LogLine = Record<string, unknown> & { msg?: string };

/**
 * A built service started as its own OS process, as in the distributed
 * mode. Its JSON log lines are kept so a test can wait on what it says.
 */
export class ServiceProcess {
  readonly lines: LogLine[] = [];
  readonly stderr: string[] = [];
  private readonly waiters: Array<{ match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }> = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        line = { msg: text };
      }
      this.lines.push(line);
      for (const waiter of [...this.waiters]) {
        if (waiter.match(line)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    });
    createInterface({ input: child.stderr! }).on('line', (text) => this.stderr.push(text));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  static start(name: string, entry: string, env: Record<string, string>, args: readonly string[] = []): ServiceProcess {
    const child = spawn(process.execPath, [entry, ...args], {
      env: { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new ServiceProcess(name, child);
  }

  /**
   * Resolves with the first log line (past or future) that matches. A minute by default: the high-availability
   * test starts ten processes at once on two cores, and one took over 30 s to say it listened in a loaded CI run.
   */
  waitForLog(match: (l: LogLine) => boolean, timeoutMs = 60_000): Promise<LogLine> {
    const seen = this.lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name}: no matching log line in ${timeoutMs} ms; stderr: ${this.stderr.join('\n')}`)),
        timeoutMs,
      );
      this.waiters.push({
        match,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
      void this.exited.then(({ code }) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited with ${code}: ${this.stderr.join('\n')}`));
      });
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(signal);
    await this.exited;
  }
}

/** Starts the telemetry service and resolves with its HTTP URL once it listens. */
export async function startTelemetryProcess(name: string, env: Record<string, string>): Promise<{ process: ServiceProcess; url: string }> {
  const proc = ServiceProcess.start(name, ENTRY.telemetry, { HTTP_PORT: '0', ...env });
  const line = await proc.waitForLog((l) => l.msg === 'telemetry listening');
  return { process: proc, url: String(line['url']) };
}

/** Starts the failures service and resolves with its HTTP URL once it listens. */
export async function startFailuresProcess(name: string, env: Record<string, string>): Promise<{ process: ServiceProcess; url: string }> {
  const proc = ServiceProcess.start(name, ENTRY.failures, { HTTP_PORT: '0', ...env });
  const line = await proc.waitForLog((l) => l.msg === 'failures listening');
  return { process: proc, url: String(line['url']) };
}

/** Starts the updates service and resolves with its HTTP URL and device port once both listen. */
export async function startUpdatesProcess(
  name: string,
  env: Record<string, string>,
): Promise<{ process: ServiceProcess; url: string; devicePort: number }> {
  const proc = ServiceProcess.start(name, ENTRY.updates, { HTTP_PORT: '0', DEVICE_PORT: '0', DEVICE_HOST: '127.0.0.1', ...env });
  const device = await proc.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('device update endpoint listening'));
  const line = await proc.waitForLog((l) => l.msg === 'updates listening');
  return { process: proc, url: String(line['url']), devicePort: Number(device['port']) };
}

/** Starts the attestation service and resolves with its HTTP URL once it listens. */
export async function startAttestationProcess(
  name: string,
  env: Record<string, string>,
): Promise<{ process: ServiceProcess; url: string }> {
  const proc = ServiceProcess.start(name, ENTRY.attestation, { HTTP_PORT: '0', ...env });
  const line = await proc.waitForLog((l) => l.msg === 'attestation listening');
  return { process: proc, url: String(line['url']) };
}

export type PlatformCall = (method: string, path: string, token: string, body?: unknown) => Promise<Record<string, string> | undefined>;

/**
 * The attestation service as a process, with a tenant made and the demo
 * firmware's images (every sample app version) registered as known-good,
 * as an operator would before a fleet connects. `call` fails the test on
 * any answer that is not a success.
 */
export async function startAttestationWithTenant(
  env: Record<string, string>,
  operatorToken: string,
  tenantId = 'fleet',
): Promise<{ process: ServiceProcess; url: string; call: PlatformCall; tenantToken: string }> {
  const { process, url } = await startAttestationProcess('attestation', env);
  const call: PlatformCall = async (method, path, token, body) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    expect(response.status, `${method} ${path}`).toBeLessThan(300);
    return response.status === 204 ? undefined : ((await response.json()) as Record<string, string>);
  };
  const tenantToken = (await call('POST', '/v1/tenants', operatorToken, { id: tenantId, name: tenantId }))!['administratorToken']!;
  for (const image of demoKnownGood()) {
    await call('PUT', '/v1/measurements', operatorToken, { stage: image.stage, sha256: image.sha256, status: 'released' });
  }
  return { process, url, call, tenantToken };
}

/** Starts the API front and resolves with its URL once it listens (its upstreams need not be up). */
export async function startApiProcess(name: string, env: Record<string, string>): Promise<{ process: ServiceProcess; url: string }> {
  const proc = ServiceProcess.start(name, ENTRY.api, { HTTP_PORT: '0', ...env });
  const line = await proc.waitForLog((l) => l.msg === 'api listening');
  return { process: proc, url: String(line['url']) };
}

/** The gateway's certificate and the device roots it trusts, from a test PKI. */
export function gatewayTlsEnv(pki: TestPki): Record<string, string> {
  return {
    TLS_CERT_FILE: pki.files.gatewayCert,
    TLS_KEY_FILE: pki.files.gatewayKey,
    MANUFACTURER_CA_FILE: pki.files.manufacturerCa,
    PLATFORM_CA_FILE: pki.files.platformCa,
  };
}

/**
 * The update server's certificate, the root devices' operational certificates chain to and the
 * manufacturer root of their IDevIDs (the recovery path), from a test PKI, and a new key-encryption key for its TUF keys (replicas of one installation must share it).
 */
export function updatesKeysEnv(pki: TestPki): Record<string, string> {
  return {
    UPDATES_KEY_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    TLS_CERT_FILE: pki.files.gatewayCert,
    TLS_KEY_FILE: pki.files.gatewayKey,
    PLATFORM_CA_FILE: pki.files.platformCa,
    MANUFACTURER_CA_FILE: pki.files.manufacturerCa,
  };
}

/** Starts the gateway and resolves with its MQTT port and HTTP URL once both listen. */
export async function startGatewayProcess(
  name: string,
  env: Record<string, string>,
): Promise<{ process: ServiceProcess; mqttPort: number; url: string }> {
  const proc = ServiceProcess.start(name, ENTRY.gateway, { HTTP_PORT: '0', MQTT_PORT: '0', MQTT_HOST: '127.0.0.1', ...env });
  const mqtt = await proc.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('MQTT over TLS listening'));
  const http = await proc.waitForLog((l) => l.msg === 'gateway listening');
  return { process: proc, mqttPort: Number(mqtt['port']), url: String(http['url']) };
}

/** Resident memory of a process in bytes, from /proc. */
export async function residentBytes(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kb ?? 0) * 1024;
}

/** Reads one counter or gauge from a Prometheus text page, summed over its label sets. */
export async function scrapeMetric(url: string, name: string, labelMatch = ''): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (labelMatch !== '' && !line.includes(labelMatch)) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}
