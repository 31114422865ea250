import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BaseFetcher, Updater } from 'tuf-js';
// tuf-js tells "no such file" from other failures by this error (a missing N+1.root.json ends the root walk).
import { DownloadHTTPError } from 'tuf-js/dist/error.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyVault } from '../key-vault.js';
import type { KeyAlgorithm } from '../keys/key-provider.js';
import { keyLabel } from '../keys/key-label.js';
import { DirectorySealedKeyStore } from '../keys/sealed-key-store.js';
import { SoftwareKeyProvider } from '../keys/software-key-provider.js';
import {
  metadataBytes,
  signDirectorTargets,
  signRoot,
  signSnapshot,
  signTargets,
  signTimestamp,
  type ImageTarget,
} from './metadata-signer.js';
import { TufSigningKey } from './tuf-keys.js';
import { ProviderTufSigner, algorithmOfTufKey, tufKeyFromJson } from './tuf-signer.js';
import { MetadataFile, MetadataRefusedError, UpdateMetadataClient } from './update-metadata.js';

const DEVICE = 'd'.repeat(64);
const DAY = 86_400_000;
const later = (days: number) => new Date(Date.now() + days * DAY);
const OS: ImageTarget = {
  path: `images/${'a'.repeat(64)}`,
  length: 4096,
  sha256: 'a'.repeat(64),
  custom: { component: 'os', version: '1.0.0', securityVersion: 1, hardware: 'rampart-emu-1', measurement: 'm'.repeat(64) },
};
const METADATA_BASE = 'https://updates.invalid/v1/metadata';

class MapFetcher extends BaseFetcher {
  constructor(private readonly files: ReadonlyMap<string, Buffer>) {
    super();
  }

  fetch(url: string): Promise<ReadableStream<Uint8Array<ArrayBuffer>>> {
    const name = url.slice(METADATA_BASE.length + 1);
    const bytes = this.files.get(name);
    if (bytes === undefined) return Promise.reject(new DownloadHTTPError(`${name}: not found`, 404));
    return Promise.resolve(new Blob([new Uint8Array(bytes)]).stream());
  }
}

/**
 * The online roles signed through a key provider, as the updates service
 * signs them: Ed25519 where the token has CKM_EDDSA, else ECDSA P-256 (TUF
 * keytype `ecdsa`, scheme `ecdsa-sha2-nistp256`, the public key as PEM).
 * Both the device's own verifier and tuf-js must take either.
 */
describe(ProviderTufSigner.name, () => {
  let dir: string;
  let provider: SoftwareKeyProvider;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-tuf-signer-'));
    provider = new SoftwareKeyProvider(new KeyVault(randomBytes(32)), new DirectorySealedKeyStore(join(dir, 'keys')));
  });

  afterAll(async () => {
    await provider?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  /** A repository whose root is an offline Ed25519 key and whose online roles are the provider's `algorithm` keys. */
  async function repository(algorithm: KeyAlgorithm, tenant: string): Promise<Map<string, Buffer>> {
    const signer = async (role: string) =>
      ProviderTufSigner.open(provider, await provider.generate(keyLabel({ tenant }, `tuf-${role}`), algorithm));
    const [targets, snapshot, timestamp, director] = await Promise.all(['targets', 'snapshot', 'timestamp', 'director'].map(signer));
    const root = TufSigningKey.generate();
    const grants = {
      root: { keys: [root.key], threshold: 1 },
      targets: [targets!.key],
      snapshot: [snapshot!.key],
      timestamp: [timestamp!.key],
      director: [director!.key],
    };
    const targetsBytes = metadataBytes(await signTargets(1, later(90), [OS], targets!));
    const snapshotBytes = metadataBytes(await signSnapshot(1, later(7), targetsBytes, 1, snapshot!));
    return new Map([
      [MetadataFile.root(1), metadataBytes(await signRoot(1, later(365), grants, [root]))],
      [MetadataFile.targets, targetsBytes],
      [MetadataFile.snapshot, snapshotBytes],
      [MetadataFile.timestamp, metadataBytes(await signTimestamp(1, later(1), snapshotBytes, 1, timestamp!))],
      [MetadataFile.director, metadataBytes(await signDirectorTargets(1, later(1), DEVICE, [OS], {}, director!))],
    ]);
  }

  for (const [algorithm, keytype, scheme] of [
    ['ecdsa-p256', 'ecdsa', 'ecdsa-sha2-nistp256'],
    ['ed25519', 'ed25519', 'ed25519'],
  ] as const) {
    it(`signs with ${algorithm} keys (TUF ${keytype}/${scheme}) that the device's verifier and tuf-js both accept`, async () => {
      const files = await repository(algorithm, `tenant-${algorithm}`);
      const root = files.get(MetadataFile.root(1))!.toString();
      const listed = (JSON.parse(root) as { signed: { keys: Record<string, { keytype: string; scheme: string }> } }).signed.keys;
      // The four online roles' keys (and, for Ed25519, the offline root key too).
      expect(Object.values(listed).filter((k) => k.keytype === keytype && k.scheme === scheme)).toHaveLength(keytype === 'ed25519' ? 5 : 4);

      const client = new UpdateMetadataClient({ root }, DEVICE);
      const result = await client.refresh((name) => Promise.resolve(files.get(name)));
      expect(result.targets.map((t) => t.path)).toEqual([OS.path]);

      const metadataDir = join(dir, `tuf-js-${algorithm}`);
      await mkdir(metadataDir, { recursive: true });
      await writeFile(join(metadataDir, 'root.json'), root);
      const updater = new Updater({ metadataDir, metadataBaseUrl: METADATA_BASE, fetcher: new MapFetcher(files) });
      await updater.refresh();
      expect((await updater.getTargetInfo(OS.path))?.length).toBe(OS.length);
      expect(JSON.parse(await readFile(join(metadataDir, 'timestamp.json'), 'utf8'))).toMatchObject({ signed: { version: 1 } });
    });
  }

  it('is refused by the device when an ECDSA signature is altered', async () => {
    const files = await repository('ecdsa-p256', 'tenant-altered');
    const timestamp = JSON.parse(files.get(MetadataFile.timestamp)!.toString()) as { signed: { version: number } };
    timestamp.signed.version = 2;
    files.set(MetadataFile.timestamp, Buffer.from(JSON.stringify(timestamp)));
    const client = new UpdateMetadataClient({ root: files.get(MetadataFile.root(1))!.toString() }, DEVICE);
    const refusal = await client.refresh((name) => Promise.resolve(files.get(name))).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(MetadataRefusedError);
    expect(refusal).toMatchObject({ reason: 'bad-signature', file: MetadataFile.timestamp });
  });

  it('reads a stored key object back only when its id is its hash, and names its algorithm', async () => {
    const signer = await ProviderTufSigner.open(
      provider,
      await provider.generate(keyLabel({ tenant: 'stored' }, 'tuf-targets'), 'ecdsa-p256'),
    );
    const json = signer.key.toJSON() as { keytype: string; scheme: string; keyval: { public: string } };
    expect(tufKeyFromJson(signer.key.keyID, json).keyID).toBe(signer.key.keyID);
    expect(() => tufKeyFromJson('0'.repeat(64), json)).toThrow(/not the hash/);
    expect(algorithmOfTufKey(json)).toBe('ecdsa-p256');
    expect(algorithmOfTufKey({ keytype: 'rsa', scheme: 'rsassa-pss-sha256' })).toBeUndefined();
  });
});
