import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, CertificateList, type TBSCertList, type TBSCertificate } from '@peculiar/asn1-x509';
import type { KeyAlgorithm, KeyHandle, KeyProvider } from './key-provider.js';

/** The X.509 signature algorithm of each key algorithm: ecdsa-with-SHA256 (RFC 5758 §3.2), Ed25519 (RFC 8410 §3); both without parameters. */
const SIGNATURE_ALGORITHM: Readonly<Record<KeyAlgorithm, string>> = {
  'ecdsa-p256': '1.2.840.10045.4.3.2',
  ed25519: '1.3.101.112',
};

/**
 * What `signCertificate` and `signCrl` need of a provider: only `sign`. A key
 * opened for one ceremony (the offline root's, decrypted from its file) signs
 * through the same code as a token's without pretending to be a whole provider.
 */
export type TbsSigner = Pick<KeyProvider, 'sign'>;

/** What a TBSCertificate or TBSCertList signed by `algorithm` names as its signature algorithm. */
export function signatureAlgorithmFor(algorithm: KeyAlgorithm): AlgorithmIdentifier {
  return new AlgorithmIdentifier({ algorithm: SIGNATURE_ALGORITHM[algorithm] });
}

/** A certificate (RFC 5280 §4.1) whose signature the provider makes over the DER of `tbs`; DER. */
export async function signCertificate(provider: TbsSigner, key: KeyHandle, tbs: TBSCertificate): Promise<Buffer> {
  const signatureValue = await signTbs(provider, key, tbs.signature, AsnConvert.serialize(tbs));
  return Buffer.from(AsnConvert.serialize(new Certificate({ tbsCertificate: tbs, signatureAlgorithm: tbs.signature, signatureValue })));
}

/** A CRL (RFC 5280 §5.1) whose signature the provider makes over the DER of `tbs`; DER. */
export async function signCrl(provider: TbsSigner, key: KeyHandle, tbs: TBSCertList): Promise<Buffer> {
  const signature = await signTbs(provider, key, tbs.signature, AsnConvert.serialize(tbs));
  return Buffer.from(AsnConvert.serialize(new CertificateList({ tbsCertList: tbs, signatureAlgorithm: tbs.signature, signature })));
}

async function signTbs(provider: TbsSigner, key: KeyHandle, declared: AlgorithmIdentifier, tbs: ArrayBuffer): Promise<ArrayBuffer> {
  // RFC 5280 §4.1.1.2: the outer algorithm must equal the TBS's; both must be the key's.
  if (declared.algorithm !== SIGNATURE_ALGORITHM[key.algorithm]) {
    throw new RangeError(`the TBS names signature algorithm ${declared.algorithm}, key ${key.label} signs ${key.algorithm}`);
  }
  const signature = await provider.sign(key, new Uint8Array(tbs));
  return signature.buffer.slice(signature.byteOffset, signature.byteOffset + signature.byteLength) as ArrayBuffer;
}
