import { createPublicKey, type KeyObject } from 'node:crypto';
import { ECParameters, id_ecPublicKey, id_secp256r1 } from '@peculiar/asn1-ecc';
import { AsnConvert, AsnProp, AsnPropTypes, AsnType, AsnTypeTypes, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509';
import { EC_P256, x509 } from '../crypto-provider.js';
import type { KeyAlgorithm } from './key-provider.js';

/** id-Ed25519 (RFC 8410 §3). */
const ID_ED25519 = '1.3.101.112';
/** A P-256 point, uncompressed (SEC 1 §2.3.3): 0x04, X, Y. */
const P256_POINT_BYTES = 65;
const ED25519_PUBLIC_BYTES = 32;

/**
 * CKA_EC_PARAMS for a new key: the DER of the curve's OBJECT IDENTIFIER
 * (PKCS#11 3.0 §2.3.3 for EC; §2.3.5 for Edwards, which also allows the
 * curve's name as a PrintableString: the OID is what SoftHSM2 and most HSMs take).
 */
export function curveParameters(algorithm: KeyAlgorithm): Buffer {
  const namedCurve = algorithm === 'ecdsa-p256' ? id_secp256r1 : ID_ED25519;
  return Buffer.from(AsnConvert.serialize(new ECParameters({ namedCurve })));
}

/** The other form PKCS#11 3.0 §2.3.5 allows for an Edwards curve's CKA_EC_PARAMS: its name, a PrintableString. */
@AsnType({ type: AsnTypeTypes.Choice })
class EdwardsCurveName {
  @AsnProp({ type: AsnPropTypes.PrintableString })
  name = '';
}

const ED25519_CURVE_NAME = Buffer.from(AsnConvert.serialize(Object.assign(new EdwardsCurveName(), { name: 'edwards25519' })));

/**
 * Whether CKA_EC_PARAMS read back from a token name `algorithm`'s curve.
 * For Ed25519 either form counts: SoftHSM2 keeps the OID it was given on the
 * public key but answers the curve's name for the private key.
 */
export function isCurveParameters(algorithm: KeyAlgorithm, parameters: Buffer): boolean {
  if (parameters.equals(curveParameters(algorithm))) return true;
  return algorithm === 'ed25519' && parameters.equals(ED25519_CURVE_NAME);
}

/**
 * The public key a token gives as CKA_EC_POINT: a DER OCTET STRING around the
 * point (PKCS#11 3.0 §2.3.3; the raw point is also seen, from older modules),
 * made into a node KeyObject through its SubjectPublicKeyInfo.
 */
export function publicKeyFromEcPoint(algorithm: KeyAlgorithm, ecPoint: Uint8Array): KeyObject {
  const size = algorithm === 'ecdsa-p256' ? P256_POINT_BYTES : ED25519_PUBLIC_BYTES;
  const point = ecPoint.length === size ? ecPoint : new Uint8Array(AsnConvert.parse(ecPoint, OctetString).buffer);
  if (point.length !== size) throw new RangeError(`a ${algorithm} public key is ${size} bytes, the token gave ${point.length}`);
  const algorithmIdentifier =
    algorithm === 'ecdsa-p256'
      ? new AlgorithmIdentifier({
          algorithm: id_ecPublicKey,
          parameters: AsnConvert.serialize(new ECParameters({ namedCurve: id_secp256r1 })),
        })
      : new AlgorithmIdentifier({ algorithm: ID_ED25519 });
  const spki = new SubjectPublicKeyInfo({ algorithm: algorithmIdentifier, subjectPublicKey: toArrayBuffer(point) });
  return createPublicKey({ key: Buffer.from(AsnConvert.serialize(spki)), format: 'der', type: 'spki' });
}

/**
 * A PKCS#11 ECDSA signature (r‖s, each 32 bytes: PKCS#11 3.0 §2.3.1) as the
 * DER ECDSA-Sig-Value X.509 and node:crypto take (RFC 3279 §2.2.3); the
 * library strips and adds the integers' leading zero octets as DER needs.
 */
export function ecdsaSignatureToDer(raw: Uint8Array): Buffer {
  const der = new x509.AsnEcSignatureFormatter().toAsnSignature(EC_P256, new Uint8Array(raw));
  if (der === null) throw new RangeError('not an ECDSA P-256 signature');
  return Buffer.from(der);
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
