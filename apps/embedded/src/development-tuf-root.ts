import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ApiClient } from '@rampart/api-client';
import {
  combineSignatures,
  createOfflineKeyFiles,
  loadOfflineKey,
  makeOfflineRoot,
  metadataBytes,
  parseOnlineGrants,
  readIfPresent,
  readOfflinePublicKey,
  signOfflineRoot,
} from '@rampart/trust';
import { loadOrCreateSecret } from './secrets.js';

/**
 * Under the data folder: the DEVELOPMENT stand-in for a tenant's TUF root
 * holders. With keys in a token the platform holds no TUF root key, so each
 * tenant's root is signed offline, k of n (`rampart ceremony tuf-key`,
 * `tuf-root make | sign | merge`, then `rampart tuf root import`); here three
 * holders' keys sit beside the platform and two of them sign, so `rampart up
 * --keys pkcs11` updates devices with no steps. The names say so.
 */
export const DEVELOPMENT_TUF_KEYS_DIR = 'DEVELOPMENT-ONLY-tuf-root-keys';
/** Under the data folder's secrets: the passphrase of the development holders' encrypted key files. */
export const DEVELOPMENT_TUF_PASSPHRASE_FILE = 'DEVELOPMENT-ONLY-tuf-root-keys.passphrase';
/** Three holders, two of whom must sign: TUF's guidance of a threshold above one, at the smallest size. */
const HOLDERS = 3;
const THRESHOLD = 2;
const ROOT_DAYS = 365;

export interface DevelopmentTufRootRequest {
  readonly dataDir: string;
  /** The updates service's own API (the platform's side of the ceremony). */
  readonly updates: ApiClient;
  readonly tenant: { readonly id: string; readonly adminToken: string };
  readonly now?: Date;
}

/**
 * DEVELOPMENT: the tenant's first TUF root, made once from the platform's
 * online keys (`GET /v1/tuf/online-keys`), signed 2 of 3 by development
 * holders' keys, and imported (`POST /v1/tuf/root`). Later starts import the
 * same root again, which the platform answers as before and changes nothing.
 * Answers the root's file.
 */
export async function importDevelopmentTufRoot(request: DevelopmentTufRootRequest): Promise<string> {
  const { dataDir, updates, tenant } = request;
  const dir = join(dataDir, DEVELOPMENT_TUF_KEYS_DIR, tenant.id);
  const rootFile = join(dir, '1.root.json');
  let rootText = await readIfPresent(rootFile);
  if (rootText === undefined) {
    const now = request.now ?? new Date();
    const passphrase = await loadOrCreateSecret(join(dataDir, 'secrets'), DEVELOPMENT_TUF_PASSPHRASE_FILE, () =>
      randomBytes(24).toString('base64url'),
    );
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const holders = [];
    for (let i = 1; i <= HOLDERS; i++) {
      const privateKeyFile = join(dir, `holder-${i}.key`);
      if ((await readIfPresent(privateKeyFile)) === undefined) await createOfflineKeyFiles(privateKeyFile, passphrase);
      holders.push({ privateKeyFile, publicKeyFile: `${privateKeyFile}.pub` });
    }
    const online = parseOnlineGrants(await updates.expect('GET', '/v1/tuf/online-keys', tenant.adminToken, undefined, [200]));
    const unsigned = makeOfflineRoot({
      version: 1,
      expires: new Date(now.getTime() + ROOT_DAYS * 24 * 3600 * 1000),
      rootKeys: await Promise.all(holders.map((h) => readOfflinePublicKey(h.publicKeyFile))),
      threshold: THRESHOLD,
      online,
    });
    const copies = [];
    for (const holder of holders.slice(0, THRESHOLD)) {
      const signer = await loadOfflineKey(holder.privateKeyFile, passphrase);
      copies.push({ file: holder.privateKeyFile, metadata: signOfflineRoot(unsigned, signer, now) });
    }
    rootText = metadataBytes(combineSignatures(copies)).toString('utf8');
    await writeFile(rootFile, rootText, { mode: 0o644 });
  }
  await updates.expect('POST', '/v1/tuf/root', tenant.adminToken, JSON.parse(rootText), [200, 201]);
  return rootFile;
}
