import { verify as cryptoVerify } from 'node:crypto';
import { DeviceHeartbeatSchema, type DeviceFailureReport, type DeviceHeartbeat } from '@rampart/contracts';
import { beforeEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../device/virtual-clock.js';
import { sampleAppImage } from '../firmware/app-images.js';
import { DEMO_HARDWARE, demoFirmware, flashFirmware, platformImage, type FirmwareSigners } from '../firmware/firmware.js';
import { ImageSigner, encodeImage, verifyAppSignature, type SignedImage } from '@rampart/trust';
import { SecuritySubsystem } from '../mcu/security-subsystem.js';
import { MemoryStateStore } from '../mcu/state-store.js';
import { Flash } from '../mcu/flash.js';
import { SecureOs, type SecureOsOptions } from './secure-os.js';
import { PowerLoss, UPDATE_STATES, type UpdateState } from './update-agent.js';

const signers: FirmwareSigners = { platform: ImageSigner.create(), apps: ImageSigner.create() };
const HEALTH_WINDOW = 10_000;

/** A device fresh from the factory, on a store that outlives the OS object (a power cycle keeps it). */
function manufacture(apps: string[] = ['sensor']) {
  const store = new MemoryStateStore();
  const security = new SecuritySubsystem(store);
  flashFirmware(security.fuses, new Flash(store), demoFirmware(signers, apps));
  return { store, security };
}

describe('secure boot and the secure OS', () => {
  let clock: VirtualClock;
  let failures: DeviceFailureReport[];
  let telemetry: Array<{ app: string; metrics: Record<string, number> }>;
  let heartbeats: DeviceHeartbeat[];

  beforeEach(() => {
    clock = new VirtualClock();
    failures = [];
    telemetry = [];
    heartbeats = [];
  });

  function powerOn(security: SecuritySubsystem, options: SecureOsOptions = {}) {
    const os = new SecureOs(
      security,
      { now: clock.now, random: () => 0.5, setTimer: clock.setTimer, clearTimer: clock.clearTimer },
      {
        telemetry: (app, metrics) => telemetry.push({ app, metrics }),
        failure: (r) => failures.push(r),
        heartbeat: (h) => heartbeats.push(h),
      },
      { healthWindowMs: HEALTH_WINDOW, ...options, appConfig: { sensor: { intervalMs: 1_000 }, ...options.appConfig } },
    );
    return { os, booted: os.powerOn() };
  }

  it('measures every stage from ROM to the apps and runs the sensor app', async () => {
    const { security } = manufacture();
    const { os, booted } = powerOn(security);
    const boot = await booted;
    expect(boot.mode).toBe('normal');
    expect(boot.bootLog.map((m) => m.stage)).toEqual(['rom', 'bootloader', 'security-monitor', 'os', 'app:sensor']);
    expect(boot.securityVersions).toMatchObject({ bootloader: 1, os: 1, 'app:sensor': 1 });
    await clock.advance(3_500);
    expect(telemetry.filter((t) => t.app === 'sensor')).toHaveLength(3);
    expect(Object.keys(telemetry[0]!.metrics)).toEqual(['sensor.temperature', 'sensor.humidity']);
    os.shutdown();
  });

  it('sends uptime heartbeats with what ran: each interval, the partial one at shutdown, numbered across power cycles', async () => {
    const { security } = manufacture();
    const start = clock.now();
    const first = powerOn(security, { heartbeatIntervalMs: 60_000 });
    await first.booted;
    await clock.advance(150_000);
    first.os.shutdown();
    expect(heartbeats.map((h) => [h.seq, h.from - start, h.to - start])).toEqual([
      [1, 0, 60_000],
      [2, 60_000, 120_000],
      [3, 120_000, 150_000],
    ]);
    expect(heartbeats[0]!.running).toEqual([
      { component: 'os', version: '1.0.0' },
      { component: 'app:sensor', version: '1.0.0' },
    ]);
    for (const h of heartbeats) expect(DeviceHeartbeatSchema.safeParse(h).success).toBe(true);
    // Power off for a minute: that time is not running time, and numbering carries on.
    await clock.advance(60_000);
    const second = powerOn(security, { heartbeatIntervalMs: 60_000 });
    await second.booted;
    await clock.advance(60_000);
    second.os.shutdown();
    expect(heartbeats.slice(3).map((h) => [h.seq, h.from - start, h.to - start])).toEqual([[4, 210_000, 270_000]]);
  });

  it('refuses a heartbeat interval longer than an hour (the platform would refuse the heartbeats)', () => {
    const { security } = manufacture();
    expect(() => powerOn(security, { heartbeatIntervalMs: 2 * 3_600_000 })).toThrow(/heartbeatIntervalMs/);
  });

  it('stops at a tampered bootloader: recovery mode, nothing else measured, and a boot-failure report', async () => {
    const { store, security } = manufacture();
    const flash = new Flash(store);
    const read = flash.read('bootloader');
    if (!('image' in read)) throw new Error('no bootloader');
    const tampered: SignedImage = { ...read.image, payload: Buffer.from('rampart emulated bootloader 1.0.0 + implant') };
    flash.write('bootloader', undefined, tampered);
    const boot = await powerOn(security).booted;
    expect(boot.mode).toBe('recovery');
    expect(boot.bootLog.map((m) => m.stage)).toEqual(['rom']);
    expect(failures).toEqual([
      expect.objectContaining({ kind: 'boot-failure', component: 'bootloader', message: expect.stringMatching(/^bad-signature/) }),
    ]);
  });

  it('refuses a tampered OS and, with no good slot left, stays in recovery', async () => {
    const { store, security } = manufacture();
    const flash = new Flash(store);
    // Signed by a key the fuses do not hold: an attacker's own build.
    flash.write(
      'os',
      'a',
      ImageSigner.create().sign({ component: 'os', version: '6.6.6', securityVersion: 9, hardware: DEMO_HARDWARE }, Buffer.from('evil')),
    );
    const boot = await powerOn(security).booted;
    expect(boot.mode).toBe('recovery');
    expect(boot.bootLog.map((m) => m.stage)).toEqual(['rom', 'bootloader', 'security-monitor']);
    expect(failures[0]).toMatchObject({ kind: 'boot-failure', component: 'os', message: expect.stringMatching(/^unknown-key/) });
  });

  describe('updates', () => {
    async function update(
      os: SecureOs,
      image: SignedImage | Uint8Array,
      component = image instanceof Uint8Array ? 'os' : image.manifest.component,
    ) {
      const bytes = image instanceof Uint8Array ? image : encodeImage(image);
      const done = os.update(() => Promise.resolve(bytes), { component: component, maxBytes: 64 * 1024 });
      done.catch(() => undefined); // awaited below; a power-loss test expects it to reject
      await clock.advance(HEALTH_WINDOW + 1);
      return done;
    }

    it('installs a new OS in the other slot, boots it, checks health, commits — and only then raises the fuse', async () => {
      const { security } = manufacture();
      const { os, booted } = powerOn(security);
      await booted;
      expect(os.booted.osSlot).toBe('a');
      const outcome = await update(os, platformImage('os', '1.1.0', 2, signers));
      expect(outcome).toEqual({ result: 'committed', component: 'os', version: '1.1.0' });
      expect(os.booted).toMatchObject({ mode: 'normal', osSlot: 'b', versions: { os: '1.1.0' } });
      expect(security.fuses.counter('os')).toBe(2);
    });

    it('refuses an older image than the anti-rollback counter allows, and leaves the running slot untouched', async () => {
      const { security } = manufacture();
      const { os, booted } = powerOn(security);
      await booted;
      await update(os, platformImage('os', '2.0.0', 3, signers));
      expect(security.fuses.counter('os')).toBe(3);
      const outcome = await update(os, platformImage('os', '1.1.0', 2, signers));
      expect(outcome).toMatchObject({ result: 'refused', reason: expect.stringMatching(/^rollback/) });
      expect(os.booted.versions.os).toBe('2.0.0');
      expect(failures.at(-1)).toMatchObject({ kind: 'update-failure', component: 'os', detail: { result: 'refused' } });
    });

    it('refuses unsigned, foreign-key, wrong-hardware, torn and oversized images', async () => {
      const { security } = manufacture();
      const { os, booted } = powerOn(security);
      await booted;
      const good = platformImage('os', '1.1.0', 2, signers);
      const cases: Array<[Uint8Array, RegExp]> = [
        [encodeImage({ ...good, payload: Buffer.from('swapped bytes') }), /^bad-signature/],
        [encodeImage(ImageSigner.create().sign(good.manifest, good.payload)), /^unknown-key/],
        [encodeImage(platformImage('os', '1.1.0', 2, signers, 'other-board')), /^wrong-hardware/],
        [encodeImage(good).subarray(0, 20), /truncated|header/],
        [Buffer.alloc(65 * 1024), /more than the .* declared/],
      ];
      for (const [bytes, reason] of cases) {
        expect(await update(os, bytes)).toMatchObject({ result: 'refused', reason: expect.stringMatching(reason) });
      }
      expect(os.booted).toMatchObject({ osSlot: 'a', versions: { os: '1.0.0' } });
      expect(security.fuses.counter('os')).toBe(1);
    });

    it('rolls back an app version that crashes during its health check, and reports both', async () => {
      const { security } = manufacture();
      const { os, booted } = powerOn(security, { appConfig: { sensor: { intervalMs: 1_000, crashRate: 1 } } });
      await booted;
      const outcome = await update(os, sampleAppImage('sensor-1.1', signers.apps, DEMO_HARDWARE));
      expect(outcome).toMatchObject({ result: 'rolled-back', component: 'app:sensor', reason: 'health check failed' });
      expect(os.booted.versions.apps).toEqual({ sensor: '1.0.0' });
      const kinds = failures.map((f) => f.kind);
      expect(kinds).toContain('app-crash');
      expect(kinds.at(-1)).toBe('update-failure');
    });

    it('after a committed OS update, rolls back a crashing app update to the app it ran: it still boots, no boot failure', async () => {
      const { security } = manufacture();
      const first = powerOn(security, { appConfig: { sensor: { intervalMs: 1_000 } } });
      await first.booted;
      expect(await update(first.os, platformImage('os', '1.1.0', 1, signers))).toMatchObject({ result: 'committed' });
      const outcome = await update(first.os, sampleAppImage('sensor-1.2', signers.apps, DEMO_HARDWARE));
      expect(outcome).toMatchObject({ result: 'rolled-back', component: 'app:sensor', reason: 'health check failed' });
      first.os.shutdown();
      // The next power-on (a fleet device reconnecting) runs the sensor app it had, from its slot.
      const boot = await powerOn(security).booted;
      expect(boot).toMatchObject({ mode: 'normal', versions: { os: '1.1.0', apps: { sensor: '1.0.0' } } });
      expect(failures.filter((f) => f.kind === 'boot-failure')).toEqual([]);
    });

    it('rolls back the first install of an app the device never had: uninstalled again, no empty slot booted', async () => {
      // The demo fleet's devices ship with no apps; an operator's first app deployment is a first install.
      const { store, security } = manufacture([]);
      const first = powerOn(security);
      await first.booted;
      const outcome = await update(first.os, sampleAppImage('sensor-1.2', signers.apps, DEMO_HARDWARE));
      expect(outcome).toMatchObject({ result: 'rolled-back', component: 'app:sensor', reason: 'health check failed' });
      expect(first.os.booted).toMatchObject({ mode: 'normal', versions: { apps: {} }, failures: [] });
      expect(new Flash(store).appNames).toEqual([]);
      first.os.shutdown();
      const boot = await powerOn(security).booted;
      expect(boot).toMatchObject({ mode: 'normal', versions: { apps: {} }, failures: [] });
      expect(failures.filter((f) => f.kind === 'boot-failure')).toEqual([]);
      expect(failures.map((f) => f.kind)).toContain('app-crash');
    });

    it('commits the first install of an app, and a later failed update of it rolls back to that install', async () => {
      const { security } = manufacture([]);
      const { os, booted } = powerOn(security);
      await booted;
      expect(await update(os, sampleAppImage('sensor', signers.apps, DEMO_HARDWARE))).toMatchObject({ result: 'committed' });
      expect(os.booted.versions.apps).toEqual({ sensor: '1.0.0' });
      expect(await update(os, sampleAppImage('sensor-1.2', signers.apps, DEMO_HARDWARE))).toMatchObject({ result: 'rolled-back' });
      expect(os.booted).toMatchObject({ mode: 'normal', versions: { apps: { sensor: '1.0.0' } }, failures: [] });
      expect(failures.filter((f) => f.kind === 'boot-failure')).toEqual([]);
    });

    it.each(UPDATE_STATES.filter((s) => !['idle', 'failure', 'rollback'].includes(s)))(
      'after power loss in %s, boots a verified slot, and the fuse moved only if the update committed',
      async (lossAt: UpdateState) => {
        const { security } = manufacture();
        let armed = true;
        const onUpdateState = (state: UpdateState) => {
          if (armed && state === lossAt) {
            armed = false;
            throw new PowerLoss(state);
          }
        };
        const first = powerOn(security, { onUpdateState });
        await first.booted;
        const attempt = update(first.os, platformImage('os', '1.1.0', 2, signers)).catch((e: unknown) => e);
        expect(await attempt).toBeInstanceOf(PowerLoss);
        first.os.shutdown();
        const second = powerOn(security);
        const settled = second.booted;
        await clock.advance(HEALTH_WINDOW + 1);
        const boot = await settled;
        expect(boot.mode).toBe('normal');
        const committed = boot.versions.os === '1.1.0';
        expect(security.fuses.counter('os')).toBe(committed ? 2 : 1);
        expect(second.os.updates.state).toBe('idle');
        // Once the commit decision was made, power loss cannot undo it; before it, the old slot stays.
        expect(committed).toBe(['reboot', 'health-check', 'commit'].includes(lossAt) ? lossAt !== 'health-check' : false);
      },
    );
  });

  it('after power loss while rolling back a failed app update, runs the old version', async () => {
    const { security } = manufacture();
    const first = powerOn(security, {
      appConfig: { sensor: { intervalMs: 1_000, crashRate: 1 } },
      onUpdateState: (state) => {
        if (state === 'rollback') throw new PowerLoss(state);
      },
    });
    await first.booted;
    const attempt = first.os.update(() => Promise.resolve(encodeImage(sampleAppImage('sensor-1.1', signers.apps, DEMO_HARDWARE))), {
      component: 'app:sensor',
      maxBytes: 64 * 1024,
    });
    attempt.catch(() => undefined);
    await clock.advance(HEALTH_WINDOW + 1);
    await expect(attempt).rejects.toBeInstanceOf(PowerLoss);
    first.os.shutdown();
    const boot = await powerOn(security).booted;
    expect(boot.versions.apps).toEqual({ sensor: '1.0.0' });
    expect(failures.at(-1)).toMatchObject({ kind: 'update-failure', component: 'app:sensor', detail: { result: 'rolled-back' } });
  });

  it('after power loss in the health check of an app first install, boots without it and reports no empty slot', async () => {
    const { store, security } = manufacture([]);
    const first = powerOn(security, {
      onUpdateState: (state) => {
        if (state === 'health-check') throw new PowerLoss(state);
      },
    });
    await first.booted;
    const attempt = first.os.update(() => Promise.resolve(encodeImage(sampleAppImage('sensor', signers.apps, DEMO_HARDWARE))), {
      component: 'app:sensor',
      maxBytes: 64 * 1024,
    });
    await expect(attempt).rejects.toBeInstanceOf(PowerLoss);
    first.os.shutdown();
    // The trial boot was spent and nothing was committed: no slot of the app may boot, and none is looked for after.
    const boot = await powerOn(security).booted;
    expect(boot).toMatchObject({ mode: 'normal', versions: { apps: {} }, failures: [] });
    expect(new Flash(store).appNames).toEqual([]);
    expect(failures.filter((f) => f.kind === 'boot-failure')).toEqual([]);
    expect(failures.at(-1)).toMatchObject({ kind: 'update-failure', component: 'app:sensor', detail: { result: 'rolled-back' } });
  });

  describe('apps', () => {
    it('refuses a host outside the manifest with EPERM, counts it and reports it once a minute', async () => {
      const { security } = manufacture(['sensor', 'net-probe']);
      const { os, booted } = powerOn(security, { appConfig: { 'net-probe': { intervalMs: 10_000 } } });
      await booted;
      await clock.advance(30_500);
      const probe = os.app('net-probe')!;
      expect(probe.stats.denied).toBe(3);
      expect(probe.stats.crashes).toBe(0);
      expect(os.firewall.denied.get('net-probe')).toBe(3);
      expect(telemetry.filter((t) => t.app === 'net-probe').map((t) => t.metrics)).toEqual(
        Array(3).fill({ 'net_probe.allowed_status': 200, 'net_probe.refused': 1 }),
      );
      expect(failures.filter((f) => f.kind === 'permission-denied')).toEqual([
        expect.objectContaining({
          component: 'app:net-probe',
          message: 'EPERM: connect exfiltrate.example.net',
          detail: { capability: 'network' },
        }),
      ]);
    });

    it('restarts a crashing app with growing backoff and reports each crash with its stack frames', async () => {
      const { store, security } = manufacture();
      const flash = new Flash(store);
      flash.write('app:sensor', 'a', sampleAppImage('sensor-1.1', signers.apps, DEMO_HARDWARE));
      const { os, booted } = powerOn(security, { appConfig: { sensor: { intervalMs: 100, crashRate: 1 } } });
      await booted;
      // Starts at 0, 1 100 and 3 200 ms (restart delays 1 s, then 2 s); each crashes on its first tick.
      await clock.advance(7_000);
      const sensor = os.app('sensor')!;
      expect(sensor.stats.crashes).toBe(3);
      expect(sensor.stats.starts).toBe(3);
      const crash = failures.find((f) => f.kind === 'app-crash')!;
      expect(crash).toMatchObject({ component: 'app:sensor', version: '1.1.0', exitCode: 1, signal: null });
      expect(crash.message).toMatch(/^TypeError: Cannot read properties of undefined/);
      expect(crash.frames.map((f) => f.function)).toEqual(['smooth', 'tick']);
      expect(crash.frames[0]!.file).toBe('app:sensor@1.1.0');
      expect(failures.map((f) => f.seq)).toEqual(failures.map((_, i) => i + 1));
    });

    it('kills an app whose callback runs past its budget (watchdog) and restarts it', async () => {
      const { store, security } = manufacture();
      const runaway = signers.apps.sign(
        {
          component: 'app:sensor',
          version: '9.9.9',
          securityVersion: 1,
          hardware: DEMO_HARDWARE,
          capabilities: { allowedHosts: [], telemetry: false, storageQuotaBytes: 0, deviceAuth: false },
        },
        Buffer.from('rampart.timers.after(10, function spin() { for (;;) {} });'),
      );
      new Flash(store).write('app:sensor', 'a', runaway);
      const { os, booted } = powerOn(security, { runtime: { callbackBudgetMs: 20 } });
      await booted;
      await clock.advance(50);
      expect(os.app('sensor')!.stats.watchdogKills).toBe(1);
      expect(failures[0]).toMatchObject({ kind: 'watchdog-reset', signal: 'SIGKILL', exitCode: null });
      await clock.advance(1_100);
      expect(os.app('sensor')!.stats.starts).toBe(2);
      os.shutdown();
    });

    it("signs an app's text with the device key under the app context only (auth.sign)", async () => {
      const { store, security } = manufacture();
      const signing = signers.apps.sign(
        {
          component: 'app:sensor',
          version: '7.1.0',
          securityVersion: 1,
          hardware: DEMO_HARDWARE,
          capabilities: { allowedHosts: [], telemetry: false, storageQuotaBytes: 512, deviceAuth: true },
        },
        Buffer.from(`rampart.storage.set('signature', rampart.auth.sign('reading 42'));`),
      );
      new Flash(store).write('app:sensor', 'a', signing);
      const { os, booted } = powerOn(security);
      await booted;
      os.shutdown();
      const entries = JSON.parse(security.sealed.unseal('app:sensor', store.read('app-storage.sensor')!).toString('utf8')) as {
        signature: string;
      };
      const signature = Buffer.from(entries.signature, 'base64');
      expect(verifyAppSignature(security.publicKey, Buffer.from('reading 42'), signature)).toBe(true);
      expect(cryptoVerify('sha256', Buffer.from('reading 42'), security.publicKey, signature)).toBe(false);
    });

    it('keeps app storage sealed across reboots, within the quota; a write over it is EPERM', async () => {
      const { store, security } = manufacture();
      const counter = signers.apps.sign(
        {
          component: 'app:sensor',
          version: '7.0.0',
          securityVersion: 1,
          hardware: DEMO_HARDWARE,
          capabilities: { allowedHosts: [], telemetry: true, storageQuotaBytes: 64, deviceAuth: false },
        },
        Buffer.from(`
          const boots = Number(rampart.storage.get('boots') ?? 0) + 1;
          rampart.storage.set('boots', String(boots));
          let refused = 0;
          try { rampart.storage.set('blob', 'x'.repeat(100)); } catch (e) { if (e.code === 'EPERM') refused = 1; }
          rampart.telemetry.publish({ boots, refused });`),
      );
      new Flash(store).write('app:sensor', 'a', counter);
      for (let i = 0; i < 2; i++) {
        const { os, booted } = powerOn(security);
        await booted;
        os.shutdown();
      }
      expect(telemetry.map((t) => t.metrics)).toEqual([
        { 'sensor.boots': 1, 'sensor.refused': 1 },
        { 'sensor.boots': 2, 'sensor.refused': 1 },
      ]);
      expect(store.read('app-storage.sensor')!.includes(Buffer.from('boots'))).toBe(false);
    });

    it('keeps a device identity across a power cycle on the same store', () => {
      const { store, security } = manufacture();
      const again = new SecuritySubsystem(store);
      expect(again.deviceId).toBe(security.deviceId);
      expect(again.fuses.burned('hardware')).toBe(DEMO_HARDWARE);
    });
  });
});
