import { Attributes, CertificationRequest, CertificationRequestInfo } from '@peculiar/asn1-csr';
import { ExtensionRequest, id_pkcs9_at_extensionRequest } from '@peculiar/asn1-pkcs9';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { Attribute, BasicConstraints, Extension, KeyUsage, Name, id_ce_basicConstraints, id_ce_keyUsage } from '@peculiar/asn1-x509';
import { x509 } from '../crypto-provider.js';
import { signatureAlgorithmFor } from '../keys/certificate-signing.js';
import { keyLabel } from '../keys/key-label.js';
import type { KeyAlgorithm, KeyHandle, KeyProvider } from '../keys/key-provider.js';
import { derToPem } from '../operational-issuer.js';
import { CA_KEY_USAGE } from './ca-certificates.js';
import { ISSUING_CA_PATH_LENGTH, spkiOf } from './offline-root.js';

/** The platform issuing CA's key label in the online token (or software key store). */
export const ISSUING_CA_KEY_LABEL = keyLabel('platform', 'issuing-ca');
export const DEFAULT_ISSUING_CA_SUBJECT = 'CN=Rampart Platform Issuing CA';

export interface IssuingCsr {
  /** PKCS#10 (RFC 2986), PEM "CERTIFICATE REQUEST": what goes to the offline machine. */
  readonly csrPem: string;
  readonly key: KeyHandle;
  /** Whether the key was made now (true) or was already in the provider under `label`. */
  readonly generated: boolean;
}

/**
 * The ONLINE side of the ceremony: a certificate signing request for the
 * platform issuing CA, whose key is in `provider` (the platform's token) and
 * never leaves it; the provider signs the request, proving the key is held.
 * The key under `label` is used, or made (`algorithm`) when there is none.
 * The request asks for exactly what the root grants an issuing CA
 * (basicConstraints CA pathLen 1, keyCertSign + cRLSign), so the offline
 * side can check it asked for nothing more.
 *
 * `subject` is a distinguished name as text, e.g. "CN=Rampart Issuing CA, O=Example".
 */
export async function createIssuingCsr(
  provider: KeyProvider,
  label: string = ISSUING_CA_KEY_LABEL,
  subject: string = DEFAULT_ISSUING_CA_SUBJECT,
  algorithm: KeyAlgorithm = 'ecdsa-p256',
): Promise<IssuingCsr> {
  const name = AsnConvert.parse(new x509.Name(subject).toArrayBuffer(), Name);
  if (name.length === 0) throw new RangeError('an issuing CA needs a subject name');
  const found = await provider.find(label);
  const key = found ?? (await provider.generate(label, algorithm));
  const requested = new ExtensionRequest([
    new Extension({
      extnID: id_ce_basicConstraints,
      critical: true,
      extnValue: new OctetString(AsnConvert.serialize(new BasicConstraints({ cA: true, pathLenConstraint: ISSUING_CA_PATH_LENGTH }))),
    }),
    new Extension({ extnID: id_ce_keyUsage, critical: true, extnValue: new OctetString(AsnConvert.serialize(new KeyUsage(CA_KEY_USAGE))) }),
  ]);
  const info = new CertificationRequestInfo({
    version: 0,
    subject: name,
    subjectPKInfo: spkiOf(await provider.publicKey(label)),
    attributes: new Attributes([new Attribute({ type: id_pkcs9_at_extensionRequest, values: [AsnConvert.serialize(requested)] })]),
  });
  const signature = await provider.sign(key, new Uint8Array(AsnConvert.serialize(info)));
  const request = new CertificationRequest({
    certificationRequestInfo: info,
    signatureAlgorithm: signatureAlgorithmFor(key.algorithm),
    signature: signature.buffer.slice(signature.byteOffset, signature.byteOffset + signature.byteLength) as ArrayBuffer,
  });
  return { csrPem: derToPem(new Uint8Array(AsnConvert.serialize(request)), 'CERTIFICATE REQUEST'), key, generated: found === undefined };
}
