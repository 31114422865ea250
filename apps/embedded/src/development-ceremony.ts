import { X509Certificate, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  DEFAULT_ISSUING_CA_SUBJECT,
  ISSUING_CA_KEY_LABEL,
  ROOT_FILES,
  createIssuingCsr,
  createOfflineRoot,
  openRootDirectory,
  readIfPresent,
  recordIssued,
  rootCrl,
  signIssuingCa,
  writeRootDirectory,
  type KeyProvider,
} from '@rampart/trust';
import { loadOrCreateSecret } from './secrets.js';

/**
 * Under the data folder: the DEVELOPMENT stand-in for the offline machine. A real offline root's key is on
 * offline media or in an offline token, and the ceremony is people carrying a request and a certificate across
 * an air gap (`rampart ceremony`, packages/trust/src/ceremony/README.md); here it sits next to the platform so
 * `rampart up --keys pkcs11` runs the three tiers with no steps. The names say so.
 */
export const DEVELOPMENT_ROOT_DIR = 'DEVELOPMENT-ONLY-offline-root';
/** Under the data folder's secrets: the passphrase of the development root's encrypted key file. */
export const DEVELOPMENT_ROOT_PASSPHRASE_FILE = 'DEVELOPMENT-ONLY-offline-root.passphrase';
/** Under the data folder: what the platform imports from the ceremony (the files a chart's keys.platformCa Secret holds). */
export const PLATFORM_CA_DIR = 'platform-ca';
const DEVELOPMENT_ROOT_NAME = 'Rampart DEVELOPMENT Offline Root (not for production)';
/** The development root's CRL is signed again at every start, so it never runs out while the platform is used. */
const ROOT_CRL_NEXT_UPDATE_DAYS = 30;

/** The three-tier platform CA's files, as attestation reads them (PLATFORM_CA_CERT_FILE, PLATFORM_ROOT_CERT_FILE, PLATFORM_ROOT_CRL_FILE). */
export interface PlatformCaFiles {
  readonly issuingCertFile: string;
  readonly rootCertFile: string;
  readonly rootCrlFile: string;
  /** Whether this start signed a new issuing CA certificate (first start, or a new token). */
  readonly issued: boolean;
}

export interface DevelopmentCeremonyRequest {
  readonly dataDir: string;
  /**
   * Where the development root's directory and its passphrase live (default: the data folder). A single host
   * (docker/compose.pkcs11.yaml) keeps them in a volume only the one-shot set-up mounts, away from the services.
   */
  readonly offlineDir?: string;
  /**
   * Where the platform CA's public files go (default: `platform-ca` under the data folder). A single host gives
   * them a volume of their own, which the gateway mounts without the token and its PIN.
   */
  readonly platformCaDir?: string;
  /** The platform's token: the issuing CA's key is made (or found) there and never leaves it. */
  readonly provider: KeyProvider;
  /** Where the root's CRL is published (the issuing CA certificate's CRL distribution point). */
  readonly rootCrlUrl?: string;
  readonly now?: Date;
}

/**
 * DEVELOPMENT: the CA signing ceremony, run by the platform itself the first
 * time. The development root (P-256, an encrypted key file under a generated
 * passphrase) is made once; the issuing CA's key is made in the token and
 * its request signed by that root, as `rampart ceremony issuing-csr` and
 * `issuing sign` do; the root's CRL is signed again at each start. Later
 * starts keep the issuing CA certificate on file while it is the token's key's.
 */
export async function runDevelopmentCeremony(request: DevelopmentCeremonyRequest): Promise<PlatformCaFiles> {
  const { dataDir, provider } = request;
  const offlineDir = request.offlineDir ?? dataDir;
  const now = request.now ?? new Date();
  const rootDir = join(offlineDir, DEVELOPMENT_ROOT_DIR);
  const passphraseFile = join(offlineDir, 'secrets', DEVELOPMENT_ROOT_PASSPHRASE_FILE);
  const passphrase = await loadOrCreateSecret(join(offlineDir, 'secrets'), DEVELOPMENT_ROOT_PASSPHRASE_FILE, () =>
    randomBytes(24).toString('base64url'),
  );
  if ((await readIfPresent(join(rootDir, ROOT_FILES.certificate))) === undefined) {
    const created = await createOfflineRoot({ commonName: DEVELOPMENT_ROOT_NAME, keys: { kind: 'encrypted-file', passphrase }, now });
    await writeRootDirectory(rootDir, created);
  }
  const platformDir = request.platformCaDir ?? join(dataDir, PLATFORM_CA_DIR);
  await mkdir(platformDir, { recursive: true, mode: 0o755 });
  const files = {
    issuingCertFile: join(platformDir, 'issuing.pem'),
    rootCertFile: join(platformDir, 'root.pem'),
    rootCrlFile: join(platformDir, 'root.crl'),
  };
  const opened = await openRootDirectory(rootDir, { passphraseFile });
  try {
    const rootPem = (await readIfPresent(join(rootDir, ROOT_FILES.certificate)))!;
    const onFile = await readIfPresent(files.issuingCertFile);
    // A token made again (or another token) holds another key: the certificate on file is then for a key that is gone.
    const issued = onFile === undefined || !(await sameKey(onFile, provider));
    if (issued) {
      const csr = await createIssuingCsr(provider, ISSUING_CA_KEY_LABEL, DEFAULT_ISSUING_CA_SUBJECT, 'ecdsa-p256');
      const certificatePem = await signIssuingCa({
        root: opened.root,
        csrPem: csr.csrPem,
        ...(request.rootCrlUrl === undefined ? {} : { crlDistributionPoint: request.rootCrlUrl }),
        now,
      });
      await recordIssued(rootDir, certificatePem);
      await writeFile(files.issuingCertFile, certificatePem, { mode: 0o644 });
    }
    await writeFile(files.rootCertFile, rootPem, { mode: 0o644 });
    const crlPem = await rootCrl({ root: opened.root, revoked: [], nextUpdateDays: ROOT_CRL_NEXT_UPDATE_DAYS, now });
    await writeFile(files.rootCrlFile, crlPem, { mode: 0o644 });
    return { ...files, issued };
  } finally {
    await opened.close();
  }
}

/** Is the issuing CA certificate on file for the key the token holds now? (A token made again holds another key.) */
async function sameKey(certificatePem: string, provider: KeyProvider): Promise<boolean> {
  if ((await provider.find(ISSUING_CA_KEY_LABEL)) === undefined) return false;
  const onFile = new X509Certificate(certificatePem).publicKey.export({ type: 'spki', format: 'der' });
  return onFile.equals((await provider.publicKey(ISSUING_CA_KEY_LABEL)).export({ type: 'spki', format: 'der' }));
}
