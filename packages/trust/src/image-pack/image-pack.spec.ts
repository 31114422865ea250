import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageSigner, decodeImage, encodeImage, keyIdOf, measureImage } from '../signed-image.js';
import { ImageManifestError, checkImageManifest } from './image-manifest.js';
import { packImage, readAppDirectory, writeImageFile } from './image-packer.js';
import { verifyImage } from './image-verifier.js';

/** The problems a refused call names (the test fails if it is not refused). */
async function refusal(run: () => unknown): Promise<string> {
  try {
    await run();
  } catch (error) {
    if (error instanceof ImageManifestError) return error.message;
    throw error;
  }
  throw new Error('expected an ImageManifestError');
}

describe('image pack and verify', () => {
  let dir: string;
  let payloadFile: string;
  let appDir: string;
  const signer = ImageSigner.create();
  const other = ImageSigner.create();
  const os = { component: 'os', version: '1.1.0', securityVersion: 1, hardware: 'rampart-emu-1', signer };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-image-pack-'));
    payloadFile = join(dir, 'os.bin');
    await writeFile(payloadFile, Buffer.from('an operating system, byte for byte'));
    appDir = join(dir, 'thermo');
    await mkdir(appDir);
    await writeFile(join(appDir, 'main.js'), 'export default function main() {}\n');
    await writeFile(
      join(appDir, 'manifest.json'),
      JSON.stringify({
        component: 'app:thermo',
        version: '0.3.0',
        securityVersion: 2,
        capabilities: { allowedHosts: ['api.example.com'], telemetry: true, storageQuotaBytes: 512, deviceAuth: false },
      }),
    );
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('packs an OS image that verifies with its key, round trip through the file', async () => {
    const image = await packImage({ ...os, payloadFile });
    const out = join(dir, 'os-1.1.0.rimg');
    const written = await writeImageFile(out, image);
    const bytes = await readFile(out);
    expect(written.size).toBe(bytes.length);
    const result = verifyImage(bytes, { publicKeySpki: signer.publicKeySpki, measurement: measureImage(image) });
    expect(result.problems).toEqual([]);
    expect(result.verified).toBe(true);
    expect(result.image).toMatchObject({
      manifest: { component: 'os', version: '1.1.0', securityVersion: 1, hardware: 'rampart-emu-1' },
      signerKeyId: signer.keyId,
      signature: 'valid',
      sha256: written.sha256,
      payloadBytes: 'an operating system, byte for byte'.length,
    });
    expect(decodeImage(bytes).payload.toString()).toBe('an operating system, byte for byte');
  });

  it('packs an app directory with the manifest and capabilities it declares', async () => {
    const image = await packImage({ hardware: 'rampart-emu-1', signer, appDir });
    expect(image.manifest).toEqual({
      component: 'app:thermo',
      version: '0.3.0',
      securityVersion: 2,
      hardware: 'rampart-emu-1',
      capabilities: { allowedHosts: ['api.example.com'], telemetry: true, storageQuotaBytes: 512, deviceAuth: false },
    });
    expect(image.payload.toString()).toBe('export default function main() {}\n');
    expect(verifyImage(encodeImage(image), { publicKeySpki: signer.publicKeySpki }).verified).toBe(true);
    // Flags that agree with manifest.json are accepted; one that disagrees is named.
    await expect(packImage({ hardware: 'x1', signer, appDir, component: 'app:thermo', version: '0.3.0' })).resolves.toBeDefined();
    expect(await refusal(() => packImage({ hardware: 'x1', signer, appDir, version: '0.4.0' }))).toMatch(
      /version: "0.4.0" was given, but .*manifest.json says "0.3.0"/,
    );
  });

  it('without a key reports the key id the image claims', async () => {
    const result = verifyImage(encodeImage(await packImage({ ...os, payloadFile })));
    expect(result).toMatchObject({ verified: true, image: { signerKeyId: keyIdOf(signer.publicKeySpki) } });
  });

  it('refuses an image signed by another key than the one given', async () => {
    const result = verifyImage(encodeImage(await packImage({ ...os, payloadFile })), { publicKeySpki: other.publicKeySpki });
    expect(result.verified).toBe(false);
    expect(result.problems).toEqual([`signed by key ${signer.keyId}, not by the given key ${other.keyId}`]);
  });

  describe('refuses a one-byte change', () => {
    let bytes: Buffer;
    let headerEnd: number;
    beforeAll(async () => {
      bytes = encodeImage(await packImage({ ...os, payloadFile }));
      headerEnd = 8 + bytes.readUInt32BE(4);
    });
    const changed = (at: number, to?: number): Buffer => {
      const copy = Buffer.from(bytes);
      copy[at] = to ?? copy[at]! ^ 0x01;
      return copy;
    };
    const header = (): string => bytes.subarray(8, headerEnd).toString();

    it('in the payload', () => {
      for (const at of [headerEnd, bytes.length - 1]) {
        const result = verifyImage(changed(at), { publicKeySpki: signer.publicKeySpki });
        expect(result.verified).toBe(false);
        expect(result.problems).toEqual(['the signature does not verify: the manifest, the payload or the signature was changed']);
      }
    });

    it('in the manifest', () => {
      // "1.1.0" → "1.1.1": still a well-formed manifest, so only the signature can tell.
      const at = 8 + header().indexOf('"1.1.0"') + 5;
      const result = verifyImage(changed(at, '1'.charCodeAt(0)), { publicKeySpki: signer.publicKeySpki });
      expect(result.image?.manifest.version).toBe('1.1.1');
      expect(result.verified).toBe(false);
      expect(result.problems[0]).toMatch(/signature does not verify/);
    });

    it('in the signature', () => {
      const signature = header().indexOf('"signature":"') + '"signature":"'.length;
      // A base64 character in the middle of the signature, swapped for another valid one.
      const at = 8 + signature + 20;
      const result = verifyImage(changed(at, bytes[at] === 0x41 ? 0x42 : 0x41), { publicKeySpki: signer.publicKeySpki });
      expect(result.verified).toBe(false);
      expect(result.problems).toEqual(['the signature does not verify: the manifest, the payload or the signature was changed']);
    });

    it('in the magic or the header length', () => {
      expect(verifyImage(changed(0)).problems).toEqual(['not a Rampart image: not a Rampart image']);
      expect(verifyImage(changed(7)).verified).toBe(false);
    });

    it('in the expected measurement', async () => {
      const measurement = measureImage(await packImage({ ...os, payloadFile }));
      const wrong = `${measurement.slice(0, -1)}${measurement.endsWith('0') ? '1' : '0'}`;
      expect(verifyImage(bytes, { measurement: wrong }).problems).toEqual([`the measurement is ${measurement}, not the expected ${wrong}`]);
    });
  });

  describe('names the valid values of bad inputs', () => {
    it.each([
      [{ component: 'kernel' }, /component: "kernel" is not a component: os, bootloader, security-monitor or app:<name>/],
      [{ component: 'app:Thermo' }, /"app:Thermo" is not a component/],
      [{ component: undefined }, /component: required: os, bootloader, security-monitor or app:<name>/],
      [{ version: 'v 1' }, /version: "v 1" is not a version: 1-64 letters, digits, "\.", "\+" or "-"/],
      [{ securityVersion: 70_000 }, /securityVersion: must be a whole number from 0 to 65535/],
      [{ securityVersion: 1.5 }, /securityVersion: required: a whole number from 0 to 65535/],
      [{ hardware: '../board' }, /hardware: "..\/board" is not a hardware name/],
    ])('%j', async (change, message) => {
      expect(await refusal(() => packImage({ ...os, payloadFile, ...change }))).toMatch(message);
    });

    it('lists every broken rule at once', async () => {
      const message = await refusal(() => packImage({ ...os, payloadFile, component: 'kernel', version: '' }));
      expect(message).toMatch(/^component: .*; version: /);
    });

    it('needs exactly one payload file or app directory, and names a missing one', async () => {
      expect(await refusal(() => packImage(os))).toMatch(/exactly one of a payload file \(--payload FILE\) or an app directory/);
      expect(await refusal(() => packImage({ ...os, payloadFile, appDir }))).toMatch(/exactly one/);
      expect(await refusal(() => packImage({ ...os, payloadFile: join(dir, 'missing.bin') }))).toMatch(
        /cannot read the payload .*missing.bin \(ENOENT\)/,
      );
    });

    it("names what is wrong in an app directory's manifest.json", async () => {
      const bad = join(dir, 'bad-app');
      await mkdir(bad, { recursive: true });
      expect(() => readAppDirectory(bad)).toThrow(/cannot read .*bad-app\/manifest.json \(ENOENT\)/);
      await writeFile(join(bad, 'manifest.json'), '{"component":');
      expect(() => readAppDirectory(bad)).toThrow(/manifest.json: not JSON/);
      await writeFile(
        join(bad, 'manifest.json'),
        JSON.stringify({
          component: 'os',
          version: '1.0.0',
          securityVersion: 1,
          capabilities: { allowedHosts: [], telemetry: 'yes', storageQuotaBytes: 0, deviceAuth: false, network: true },
        }),
      );
      const message = await refusal(() => readAppDirectory(bad));
      expect(message).toMatch(/manifest.json: component: an app directory holds an app: app:<name>/);
      expect(message).toMatch(/capabilities.telemetry: /);
      expect(message).toMatch(/capabilities: Unrecognized key: "network"/);
    });

    it('refuses capabilities on a platform image', () => {
      expect(() =>
        checkImageManifest({
          component: 'os',
          version: '1',
          securityVersion: 0,
          hardware: 'b',
          capabilities: { allowedHosts: [], telemetry: false, storageQuotaBytes: 0, deviceAuth: false },
        }),
      ).toThrow(/capabilities: only an app \(app:<name>\) carries capabilities/);
    });
  });
});
