import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { AttributeTypeAndValue, AttributeValue, Name, RelativeDistinguishedName, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import type { TbsSigner } from '../keys/certificate-signing.js';
import { keyLabel } from '../keys/key-label.js';
import type { KeyHandle, KeyProvider } from '../keys/key-provider.js';
import { x509 } from '../crypto-provider.js';
import { MIN_PASSPHRASE_LENGTH } from '../tuf/offline-key-files.js';
import { signCaCrl, signSelfSignedCa, type CaCrlRequest, type SigningCa } from './ca-certificates.js';
import { RootKeyError } from './ceremony-errors.js';

/**
 * The hierarchy's path lengths (RFC 5280 §4.2.1.9): offline root (2) →
 * platform issuing CA (1, its key in the online token) → tenant CAs (0) →
 * device certificates. Each tier may sign only the tiers below it.
 */
export const ROOT_PATH_LENGTH = 2;
export const ISSUING_CA_PATH_LENGTH = 1;
export const TENANT_CA_PATH_LENGTH = 0;

/** Twenty years: a root is replaced by a ceremony, rarely, and every device must be able to trust it meanwhile. */
export const DEFAULT_ROOT_VALIDITY_DAYS = 7300;
/** The root key's label when it lives in a token. */
export const OFFLINE_ROOT_KEY_LABEL = keyLabel('platform', 'offline-root');
/** The encrypted file's cipher: PKCS#8 EncryptedPrivateKeyInfo with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), as OpenSSL 3 writes it. */
const KEY_FILE_CIPHER = 'aes-256-cbc';

/**
 * Where the new root's key is made: in memory, to be written out encrypted
 * under a passphrase (the file goes to offline media), or inside a token
 * (an offline HSM) through a KeyProvider, where it never leaves.
 */
export type OfflineRootKeys =
  | { readonly kind: 'encrypted-file'; readonly passphrase: string }
  | { readonly kind: 'provider'; readonly provider: KeyProvider; readonly label?: string };

export interface OfflineRootRequest {
  readonly commonName: string;
  readonly validityDays?: number;
  readonly keys: OfflineRootKeys;
  readonly now?: Date;
}

export interface CreatedOfflineRoot {
  /** The root, able to sign for the rest of this ceremony. */
  readonly root: SigningCa;
  readonly certificatePem: string;
  /** The key as an encrypted PKCS#8 PEM ("ENCRYPTED PRIVATE KEY"), for an `encrypted-file` root; absent for a token's. */
  readonly encryptedPrivateKeyPem?: string;
}

/**
 * Makes the platform's offline root: a P-256 key and its self-signed
 * certificate (pathLen 2, keyCertSign + cRLSign, critical basicConstraints,
 * SKI and AKI). It runs on the offline machine; nothing online ever holds
 * this key, so a compromised service can at worst misuse the issuing CA,
 * which the root revokes.
 */
export async function createOfflineRoot(request: OfflineRootRequest): Promise<CreatedOfflineRoot> {
  const { keys } = request;
  const subject = commonNameOnly(request.commonName);
  const validityDays = request.validityDays ?? DEFAULT_ROOT_VALIDITY_DAYS;
  if (keys.kind === 'encrypted-file') {
    checkPassphrase(keys.passphrase);
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { signer, key } = keyObjectSigner(privateKey);
    const certificatePem = await signSelfSignedCa(signer, key, {
      subject,
      subjectPublicKeyInfo: spkiOf(createPublicKey(privateKey)),
      pathLength: ROOT_PATH_LENGTH,
      validityDays,
      now: request.now,
    });
    const encryptedPrivateKeyPem = privateKey
      .export({ type: 'pkcs8', format: 'pem', cipher: KEY_FILE_CIPHER, passphrase: keys.passphrase })
      .toString();
    return { root: { certificate: pemToDer(certificatePem), signer, key }, certificatePem, encryptedPrivateKeyPem };
  }
  const key = await keys.provider.generate(keys.label ?? OFFLINE_ROOT_KEY_LABEL, 'ecdsa-p256');
  const certificatePem = await signSelfSignedCa(keys.provider, key, {
    subject,
    subjectPublicKeyInfo: spkiOf(await keys.provider.publicKey(key.label)),
    pathLength: ROOT_PATH_LENGTH,
    validityDays,
    now: request.now,
  });
  return { root: { certificate: pemToDer(certificatePem), signer: keys.provider, key }, certificatePem };
}

/** The root from its certificate and its encrypted key file's PEM; RootKeyError when the passphrase does not open it. */
export function openEncryptedRoot(certificatePem: string, encryptedPrivateKeyPem: string, passphrase: string, path: string): SigningCa {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: encryptedPrivateKeyPem, format: 'pem', passphrase });
  } catch (error) {
    throw new RootKeyError(path, 'the key does not open with this passphrase (or is not an encrypted private key)', { cause: error });
  }
  const certificate = pemToDer(certificatePem);
  if (!new X509Certificate(certificate).checkPrivateKey(privateKey))
    throw new RootKeyError(path, "the key is not the root certificate's key");
  return { certificate, ...keyObjectSigner(privateKey) };
}

/** The root from its certificate and its key in a token; RootKeyError when the token holds no such key or another one. */
export async function openTokenRoot(certificatePem: string, provider: KeyProvider, label: string, path: string): Promise<SigningCa> {
  const key = await provider.find(label);
  if (key === undefined) throw new RootKeyError(path, `the token holds no key ${label}`);
  const certificate = pemToDer(certificatePem);
  if (!new X509Certificate(certificate).publicKey.equals(await provider.publicKey(label))) {
    throw new RootKeyError(path, `the token's key ${label} is not the root certificate's key`);
  }
  return { certificate, signer: provider, key };
}

/**
 * The root's CRL, signed on the offline machine: lists the issuing CAs it
 * revoked. Relying parties need a fresh one before `nextUpdateDays` pass, so
 * the ceremony that makes it comes back on that schedule.
 */
export async function rootCrl(request: CaCrlRequest & { readonly root: SigningCa }): Promise<string> {
  return await signCaCrl(request.root, request);
}

/** The root key file takes the passphrase length every offline ceremony key takes (`MIN_PASSPHRASE_LENGTH`). */
export function checkPassphrase(passphrase: string): void {
  if (passphrase.length < MIN_PASSPHRASE_LENGTH) {
    throw new RangeError(`a root key passphrase has at least ${MIN_PASSPHRASE_LENGTH} characters`);
  }
}

/** A key opened for one ceremony: it signs what `signCertificate` and `signCrl` give it, and nothing keeps it after. */
function keyObjectSigner(privateKey: KeyObject): { signer: TbsSigner; key: KeyHandle } {
  const key: KeyHandle = { label: OFFLINE_ROOT_KEY_LABEL, algorithm: 'ecdsa-p256' };
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new RangeError('the offline root key is ECDSA P-256');
  }
  // node:crypto signs ECDSA as DER, what X.509 carries.
  return { signer: { sign: (_key, data) => Promise.resolve(sign('sha256', data, privateKey)) }, key };
}

/** A distinguished name of one common name (X.520 id-at-commonName), UTF8String: no DN-string parsing, so any text is safe. */
export function commonNameOnly(commonName: string): Name {
  if (commonName.trim() === '') throw new RangeError('a CA needs a common name');
  return new Name([
    new RelativeDistinguishedName([new AttributeTypeAndValue({ type: '2.5.4.3', value: new AttributeValue({ utf8String: commonName }) })]),
  ]);
}

export function spkiOf(publicKey: KeyObject): SubjectPublicKeyInfo {
  return AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
}

function pemToDer(pem: string): Buffer {
  return Buffer.from(x509.PemConverter.decodeFirst(pem));
}
