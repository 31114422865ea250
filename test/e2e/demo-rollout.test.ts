import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENTRY, ServiceProcess } from '../support/service-process.js';

const DEVICES = 20;

interface Outcome {
  state: string;
  reason: string | null;
  currentWave: number;
  waves: Array<{ wave: number; devices: number; openedAtMs: number; doneAtMs: number | null }>;
  devicesByState: Record<string, number>;
  touchedWaves: number[];
  durationMs: number;
}

/**
 * The demo rollout through the real built CLI, unattended, on the embedded
 * platform (PGlite, the in-process bus): a new OS completes wave by wave on
 * every device, a crashing sensor build stops at its first wave, and the
 * report says so — in well under two minutes.
 */
describe('the demo rollout (rampart up --scenario rollout --once)', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-demo-rollout-'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('rolls a new OS out to every device in waves, stops a crashing app after its first wave, and reports it', async () => {
    const report = join(dir, 'rollout.json');
    const started = Date.now();
    const cli = ServiceProcess.start('rampart-up-rollout', ENTRY.cli, { LOG_LEVEL: 'warn' }, [
      'up',
      '--scenario',
      'rollout',
      '--once',
      '--devices',
      String(DEVICES),
      '--waves',
      '10,50,100',
      '--data-dir',
      join(dir, 'data'),
      '--report',
      report,
      // Every port free: the fixed defaults may be another platform's.
      ...['--mqtt-port', '--api-port', '--gateway-http-port', '--attestation-port', '--telemetry-port', '--failures-port']
        .concat(['--updates-port', '--updates-device-port'])
        .flatMap((flag) => [flag, '0']),
    ]);
    const { code } = await cli.exited;
    const elapsedMs = Date.now() - started;
    expect(code, cli.stderr.join('\n')).toBe(0);
    const result = JSON.parse(await readFile(report, 'utf8')) as {
      devices: number;
      os: Outcome & { version: string };
      app: Outcome & { version: string; crashFree: { devices: number; crashFreeDevices: number; rate: number } | null };
      fleet: { devicesAttested: number; updatesInstalled: number };
      problems: string[];
      ok: boolean;
    };
    expect(result).toMatchObject({ devices: DEVICES, problems: [], ok: true });

    // Every device on the new OS, in three waves of 2, 8 and 10, each opened after the one before.
    expect(result.os).toMatchObject({ state: 'completed', version: '2.0.0', devicesByState: { installed: DEVICES, failed: 0 } });
    expect(result.os.waves.map((w) => w.devices)).toEqual([2, 8, 10]);
    for (const [i, wave] of result.os.waves.entries()) {
      expect(wave.doneAtMs, `wave ${i} done`).not.toBeNull();
      if (i > 0) expect(wave.openedAtMs).toBeGreaterThanOrEqual(result.os.waves[i - 1]!.doneAtMs!);
    }
    expect(result.fleet.updatesInstalled).toBeGreaterThanOrEqual(DEVICES);

    // The crashing build: aborted by its gate in the first wave, no device beyond it touched, no crash-free device there.
    expect(result.app).toMatchObject({ state: 'aborted', currentWave: 0, touchedWaves: [0], reason: expect.stringMatching(/failed/) });
    expect(result.app.devicesByState['pending']).toBe(DEVICES - 2);
    expect(result.app.crashFree).toMatchObject({ devices: 2, crashFreeDevices: 0, rate: 0 });
    expect(result.fleet.devicesAttested).toBe(DEVICES);

    // Nothing waited out a timeout: the whole run, start-up and shutdown included, well under two minutes.
    expect(elapsedMs).toBeLessThan(100_000);
  });
});
