import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStateStore, SecureOs, VirtualClock, demoFirmware, manufactureDevice, type UpdateOutcome } from '@rampart/emulator';
import type { EmbeddedPlatform } from '@rampart/embedded';
import { callApi } from '@rampart/testing';
import { ImageSigner, loadImageSigner, packImage, verifyImage, writeImageFile } from '@rampart/trust';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPlatform } from '../../embedded/test/support/test-platform.js';
import { runCli } from './support/run-cli.js';

const HEALTH_WINDOW_MS = 10_000;

/** What `rampart image upload` (the built binary) prints, and its exit code. */
async function upload(platform: EmbeddedPlatform, file: string): Promise<{ code: number; out: string }> {
  const run = await runCli(['image', 'upload', file, '-o', 'json', '--api', platform.api.url], {
    HOME: tmpdir(),
    RAMPART_TOKEN: platform.tenant.adminToken,
  });
  return { code: run.code, out: run.stdout };
}

/**
 * An emulated device made as `rampart up --fleet` makes the demo fleet's (fused to the platform's firmware keys),
 * offered `bytes` as its next OS by its update agent: trial boot, health window, commit or refusal.
 */
async function offerToDemoDevice(platform: EmbeddedPlatform, bytes: Uint8Array): Promise<UpdateOutcome> {
  const clock = new VirtualClock();
  const { security } = await manufactureDevice(platform.pki.manufacturerCa, {
    store: new MemoryStateStore(),
    firmware: demoFirmware(platform.firmware.signers),
  });
  const os = new SecureOs(
    security,
    { now: clock.now, random: () => 0.5, setTimer: clock.setTimer, clearTimer: clock.clearTimer },
    { telemetry: () => undefined, failure: () => undefined, heartbeat: () => undefined },
    { healthWindowMs: HEALTH_WINDOW_MS },
  );
  await os.powerOn();
  const outcome = os.update(() => Promise.resolve(bytes), { component: 'os', maxBytes: 1024 * 1024 });
  await clock.advance(HEALTH_WINDOW_MS + 1);
  try {
    return await outcome;
  } finally {
    os.shutdown();
  }
}

describe('images the operator packs, on the embedded platform', () => {
  let dir: string;
  let dataDir: string;
  let platform: EmbeddedPlatform;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-image-pack-'));
    dataDir = join(dir, '.rampart');
    platform = await startTestPlatform(dataDir);
  });

  afterAll(async () => {
    await platform?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("keeps the demo firmware's signing keys in the data folder, private keys 0600", async () => {
    const { firmware } = platform;
    expect(firmware.platform.privateKeyFile).toBe(join(dataDir, 'signing', 'platform.key'));
    expect(firmware.apps.privateKeyFile).toBe(join(dataDir, 'signing', 'apps.key'));
    for (const files of [firmware.platform, firmware.apps]) {
      expect((await stat(files.privateKeyFile)).mode & 0o777).toBe(0o600);
      expect(await readFile(files.publicKeyFile, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    }
    expect(firmware.signers.platform.keyId).toBe(firmware.platform.keyId);
    expect(firmware.signers.apps.keyId).not.toBe(firmware.platform.keyId);
    // The demo devices are fused to them.
    expect(demoFirmware(firmware.signers)).toMatchObject({ platformKeyId: firmware.platform.keyId, appKeyId: firmware.apps.keyId });
  });

  it('accepts a packed OS image on upload, with the manifest it was packed with, and a demo device installs it', async () => {
    await writeFile(join(dir, 'os.bin'), 'the operator’s own OS 1.1.0');
    const packed = await packImage({
      component: 'os',
      version: '1.1.0',
      securityVersion: 2,
      hardware: 'rampart-emu-1',
      signer: await loadImageSigner(platform.firmware.platform.privateKeyFile),
      payloadFile: join(dir, 'os.bin'),
    });
    const file = join(dir, 'os-1.1.0.rimg');
    const written = await writeImageFile(file, packed);
    const local = verifyImage(await readFile(file), { publicKeySpki: platform.firmware.signers.platform.publicKeySpki });
    expect(local.verified).toBe(true);

    const uploaded = await upload(platform, file);
    expect(uploaded.code).toBe(0);
    expect(JSON.parse(uploaded.out)).toMatchObject({ sha256: written.sha256, status: 'uploaded' });
    const stored = await callApi(platform.updates.url, platform.tenant.adminToken, 'GET', `/v1/images/${written.sha256}`);
    expect(stored.status).toBe(200);
    expect(stored.body).toMatchObject({
      component: 'os',
      version: '1.1.0',
      securityVersion: 2,
      hardware: 'rampart-emu-1',
      size: written.size,
      measurement: local.image!.measurement,
      signerKeyId: platform.firmware.platform.keyId,
    });

    expect(await offerToDemoDevice(platform, await readFile(file))).toEqual({ result: 'committed', component: 'os', version: '1.1.0' });
  });

  it("refuses, on a demo device, the same OS signed with a key that is not the platform's", async () => {
    await writeFile(join(dir, 'os.bin'), 'an OS from someone else');
    const foreign = await packImage({
      component: 'os',
      version: '1.1.0',
      securityVersion: 2,
      hardware: 'rampart-emu-1',
      signer: ImageSigner.create(),
      payloadFile: join(dir, 'os.bin'),
    });
    const file = join(dir, 'foreign.rimg');
    await writeImageFile(file, foreign);
    // Well signed, so it verifies with the key it carries; only the device's fuses tell it is not the maker's.
    expect(verifyImage(await readFile(file)).verified).toBe(true);
    expect(await offerToDemoDevice(platform, await readFile(file))).toMatchObject({
      result: 'refused',
      reason: expect.stringMatching(/unknown-key/),
    });
  });

  it('reads the same keys after a restart', async () => {
    const before = platform.firmware;
    await platform.close();
    platform = await startTestPlatform(dataDir);
    expect(platform.firmware.platform.keyId).toBe(before.platform.keyId);
    expect(platform.firmware.apps.keyId).toBe(before.apps.keyId);
  });
});
