import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { ExtensionRequest, id_pkcs9_at_challengePassword, id_pkcs9_at_extensionRequest } from '@peculiar/asn1-pkcs9';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  BasicConstraints,
  KeyUsage,
  type Extension,
  type Name,
  type SubjectPublicKeyInfo,
  id_pe_authorityInfoAccess,
  id_ce_basicConstraints,
  id_ce_certificatePolicies,
  id_ce_cRLDistributionPoints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_nameConstraints,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
} from '@peculiar/asn1-x509';
import { x509 } from '../crypto-provider.js';
import { signatureAlgorithmFor } from '../keys/certificate-signing.js';
import type { KeyAlgorithm } from '../keys/key-provider.js';
import { CA_KEY_USAGE } from './ca-certificates.js';
import { CsrExtensionError, CsrFormatError, CsrKeyTypeError, CsrSignatureError } from './ceremony-errors.js';
import { ISSUING_CA_PATH_LENGTH } from './offline-root.js';

/** What a checked request contributes to the issuing CA's certificate: only its subject and key. */
export interface CheckedIssuingCsr {
  readonly subject: Name;
  readonly subjectPublicKeyInfo: SubjectPublicKeyInfo;
  readonly algorithm: KeyAlgorithm;
}

/** Labels a PKCS#10 request's PEM may carry (RFC 7468 §7; "NEW" is what older OpenSSL wrote). */
const CSR_PEM_LABELS = ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'];

/** Names for the OIDs a refusal may quote, so the operator reads "subjectAltName", not 2.5.29.17. */
const KNOWN_OIDS: Readonly<Record<string, string>> = {
  [id_ce_basicConstraints]: 'basicConstraints',
  [id_ce_keyUsage]: 'keyUsage',
  [id_ce_subjectAltName]: 'subjectAltName',
  [id_ce_extKeyUsage]: 'extendedKeyUsage',
  [id_ce_nameConstraints]: 'nameConstraints',
  [id_ce_certificatePolicies]: 'certificatePolicies',
  [id_ce_cRLDistributionPoints]: 'cRLDistributionPoints',
  [id_pe_authorityInfoAccess]: 'authorityInfoAccess',
  [id_pkcs9_at_challengePassword]: 'challengePassword',
};

/**
 * The OFFLINE side's check of an issuing CA's request, before the root signs
 * anything: it is one PKCS#10 request (RFC 2986) with a subject; its key is
 * P-256 or Ed25519; its self-signature verifies with that key under the
 * algorithm the key implies (proof the requester holds the key); and every
 * extension it asks for is one the issuing CA is granted anyway. Anything else
 * is refused by a CsrRefusedError subclass naming what, never signed with the
 * excess dropped: a request asking for more than it gets was not made by our
 * own `createIssuingCsr`, and the operator should find out why.
 */
export function checkIssuingCsr(csrPem: string): CheckedIssuingCsr {
  const request = parseCsr(csrPem);
  const info = request.certificationRequestInfo;
  if (info.version !== 0) throw new CsrFormatError(`version ${info.version}; PKCS#10 knows only v1 (0)`);
  if (info.subject.length === 0) throw new CsrFormatError('the subject is empty; a CA certificate names its subject');
  const { publicKey, algorithm } = keyOf(info.subjectPKInfo);
  const expected = signatureAlgorithmFor(algorithm).algorithm;
  if (request.signatureAlgorithm.algorithm !== expected) {
    throw new CsrSignatureError(`it names algorithm ${request.signatureAlgorithm.algorithm}; a ${algorithm} key signs with ${expected}`);
  }
  const signed = request.certificationRequestInfoRaw;
  if (signed === undefined || !verifies(algorithm, new Uint8Array(signed), publicKey, new Uint8Array(request.signature))) {
    throw new CsrSignatureError('it does not verify with the key the request carries');
  }
  for (const extension of requestedExtensions(request)) checkRequestedExtension(extension);
  return { subject: info.subject, subjectPublicKeyInfo: info.subjectPKInfo, algorithm };
}

function parseCsr(csrPem: string): CertificationRequest {
  let blocks: { type: string; rawData: ArrayBuffer }[];
  try {
    blocks = x509.PemConverter.decodeWithHeaders(csrPem);
  } catch (error) {
    throw new CsrFormatError('it is not PEM', { cause: error });
  }
  const requests = blocks.filter((b) => CSR_PEM_LABELS.includes(b.type));
  const [only] = requests;
  if (only === undefined || requests.length !== 1 || blocks.length !== 1) {
    throw new CsrFormatError(
      `a file holds one PEM "CERTIFICATE REQUEST", this one holds ${blocks.map((b) => b.type).join(', ') || 'none'}`,
    );
  }
  try {
    return AsnConvert.parse(only.rawData, CertificationRequest);
  } catch (error) {
    throw new CsrFormatError('its DER is not a CertificationRequest', { cause: error });
  }
}

function keyOf(spki: SubjectPublicKeyInfo): { publicKey: KeyObject; algorithm: KeyAlgorithm } {
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.from(AsnConvert.serialize(spki)), format: 'der', type: 'spki' });
  } catch {
    throw new CsrKeyTypeError(`an unreadable key of algorithm ${spki.algorithm.algorithm}`);
  }
  const type = publicKey.asymmetricKeyType ?? 'unknown';
  if (type === 'ed25519') return { publicKey, algorithm: 'ed25519' };
  const details = publicKey.asymmetricKeyDetails;
  if (type === 'ec' && details?.namedCurve === 'prime256v1') return { publicKey, algorithm: 'ecdsa-p256' };
  if (type === 'ec') throw new CsrKeyTypeError(`EC on curve ${details?.namedCurve ?? 'unknown'}`);
  throw new CsrKeyTypeError(
    details?.modulusLength === undefined ? type.toUpperCase() : `${type.toUpperCase()} ${details.modulusLength}-bit`,
  );
}

function verifies(algorithm: KeyAlgorithm, data: Uint8Array, publicKey: KeyObject, signature: Uint8Array): boolean {
  try {
    // ECDSA: DER ECDSA-Sig-Value (RFC 3279 §2.2.3), node's default encoding; Ed25519: the raw 64 bytes (RFC 8410 §6).
    return verify(algorithm === 'ecdsa-p256' ? 'sha256' : null, data, publicKey, signature);
  } catch {
    // A signature that is not even DER is a signature that does not verify.
    return false;
  }
}

/** The extensions the request asks for (PKCS#9 extensionRequest, RFC 2985 §5.4.2); any other attribute is refused. */
function requestedExtensions(request: CertificationRequest): Extension[] {
  const attributes = request.certificationRequestInfo.attributes ?? [];
  const extensions: Extension[] = [];
  for (const attribute of attributes) {
    if (attribute.type !== id_pkcs9_at_extensionRequest) {
      throw new CsrExtensionError(
        attribute.type,
        `attribute ${nameOf(attribute.type)}: an issuing CA's request carries extensionRequest only`,
      );
    }
    for (const value of attribute.values) {
      try {
        extensions.push(...AsnConvert.parse(value, ExtensionRequest));
      } catch (error) {
        throw new CsrFormatError('its extensionRequest attribute is not a list of extensions', { cause: error });
      }
    }
  }
  const seen = new Set<string>();
  for (const { extnID } of extensions) {
    // RFC 5280 §4.2: a certificate carries each extension once; a request that repeats one is asking two things.
    if (seen.has(extnID)) throw new CsrExtensionError(extnID, `extension ${nameOf(extnID)} appears twice`);
    seen.add(extnID);
  }
  return extensions;
}

/**
 * What an issuing CA may ask for, and in what form: basicConstraints CA with
 * exactly pathLen 1; keyUsage within keyCertSign + cRLSign; a subject key
 * identifier (ignored: the root computes its own from the key). Nothing else.
 */
function checkRequestedExtension(extension: Extension): void {
  const { extnID } = extension;
  switch (extnID) {
    case id_ce_basicConstraints: {
      const constraints = parseExtension(extension, BasicConstraints);
      const asked = !constraints.cA
        ? 'an end entity (CA false)'
        : constraints.pathLenConstraint === undefined
          ? 'a CA with no path length limit'
          : `a CA with pathLen ${constraints.pathLenConstraint}`;
      if (!constraints.cA || constraints.pathLenConstraint !== ISSUING_CA_PATH_LENGTH) {
        throw new CsrExtensionError(extnID, `basicConstraints asks for ${asked}; an issuing CA gets pathLen ${ISSUING_CA_PATH_LENGTH}`);
      }
      return;
    }
    case id_ce_keyUsage: {
      const usage = parseExtension(extension, KeyUsage);
      if ((usage.toNumber() & ~CA_KEY_USAGE) !== 0) {
        throw new CsrExtensionError(extnID, `keyUsage asks for ${usage.toJSON().join(', ')}; an issuing CA gets keyCertSign, cRLSign`);
      }
      return;
    }
    case id_ce_subjectKeyIdentifier:
      return;
    default:
      throw new CsrExtensionError(extnID, `extension ${nameOf(extnID)} is not granted to an issuing CA`);
  }
}

function parseExtension<T>(extension: Extension, type: new () => T): T {
  try {
    return AsnConvert.parse(extension.extnValue.buffer, type);
  } catch (error) {
    throw new CsrFormatError(`its extension ${nameOf(extension.extnID)} does not parse`, { cause: error });
  }
}

function nameOf(oid: string): string {
  const name = KNOWN_OIDS[oid];
  return name === undefined ? oid : `${name} (${oid})`;
}
