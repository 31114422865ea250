import { createHash, X509Certificate } from 'node:crypto';
import { AsnConvert, AsnProp, AsnPropTypes, OctetString } from '@peculiar/asn1-schema';
import { Extension, GeneralName, OtherName, SubjectAlternativeName, id_ce_subjectAltName } from '@peculiar/asn1-x509';
import { spkiOf } from '../device-id.js';
import type { KeyObject } from 'node:crypto';

/** id-on-hardwareModuleName (RFC 4108 §5): an otherName naming the hardware module that holds the device's keys. */
export const ID_ON_HARDWARE_MODULE_NAME = '1.3.6.1.5.5.7.8.4';
/**
 * hwType for a TPM 2.0 (TCG's tcg-tpm20 arc, 2.23.133.1.2), as TCG's "TPM 2.0 Keys for Device Identity and
 * Attestation" has an IDevID name the TPM that holds it.
 */
export const HW_TYPE_TPM2 = '2.23.133.1.2';

/** HardwareModuleName ::= SEQUENCE { hwType OBJECT IDENTIFIER, hwSerialNum OCTET STRING } (RFC 4108 §5). */
export class HardwareModuleName {
  @AsnProp({ type: AsnPropTypes.ObjectIdentifier })
  hwType = '';

  @AsnProp({ type: OctetString })
  hwSerialNum = new OctetString();

  constructor(params: Partial<HardwareModuleName> = {}) {
    Object.assign(this, params);
  }
}

/**
 * The serial Rampart gives a TPM in its devices' IDevIDs: SHA-256 of the EK's SubjectPublicKeyInfo. The EK is the
 * TPM's one permanent identity; its certificate's serial number is the vendor's, and not unique across vendors.
 */
export function tpmSerialOf(ek: KeyObject): Buffer {
  return createHash('sha256').update(spkiOf(ek)).digest();
}

/** The DER of a subjectAltName extension value holding a hardwareModuleName otherName. */
export function hardwareModuleNameGeneralName(hwType: string, serial: Uint8Array): GeneralName {
  const value = AsnConvert.serialize(new HardwareModuleName({ hwType, hwSerialNum: new OctetString(new Uint8Array(serial)) }));
  return new GeneralName({ otherName: new OtherName({ typeId: ID_ON_HARDWARE_MODULE_NAME, value }) });
}

/**
 * A certificate read only as far as its extensions: the other TBSCertificate fields stay undecoded (`Any`), since
 * the full @peculiar/asn1-x509 Certificate (names, keys, validity) costs about 0.4 ms a certificate, and this runs
 * once per TPM attestation. RFC 5280 §4.1.
 */
class TbsExtensionsOnly {
  @AsnProp({ type: AsnPropTypes.Any, context: 0, optional: true })
  version?: ArrayBuffer;
  @AsnProp({ type: AsnPropTypes.Any }) serialNumber = new ArrayBuffer(0);
  @AsnProp({ type: AsnPropTypes.Any }) signature = new ArrayBuffer(0);
  @AsnProp({ type: AsnPropTypes.Any }) issuer = new ArrayBuffer(0);
  @AsnProp({ type: AsnPropTypes.Any }) validity = new ArrayBuffer(0);
  @AsnProp({ type: AsnPropTypes.Any }) subject = new ArrayBuffer(0);
  @AsnProp({ type: AsnPropTypes.Any }) subjectPublicKeyInfo = new ArrayBuffer(0);
  @AsnProp({ type: AsnPropTypes.Any, context: 1, implicit: true, optional: true })
  issuerUniqueID?: ArrayBuffer;
  @AsnProp({ type: AsnPropTypes.Any, context: 2, implicit: true, optional: true })
  subjectUniqueID?: ArrayBuffer;
  @AsnProp({ type: Extension, context: 3, repeated: 'sequence', optional: true })
  extensions?: Extension[];
}

class CertificateExtensionsOnly {
  @AsnProp({ type: TbsExtensionsOnly }) tbsCertificate = new TbsExtensionsOnly();
  @AsnProp({ type: AsnPropTypes.Any }) signatureAlgorithm = new ArrayBuffer(0);
  @AsnProp({ type: AsnPropTypes.Any }) signatureValue = new ArrayBuffer(0);
}

/** Every hardwareModuleName a certificate's subjectAltName carries. */
export function hardwareModuleNamesOf(certificate: X509Certificate): Array<{ hwType: string; serial: Buffer }> {
  const parsed = AsnConvert.parse(certificate.raw, CertificateExtensionsOnly);
  const extension = parsed.tbsCertificate.extensions?.find((e) => e.extnID === id_ce_subjectAltName);
  if (extension === undefined) return [];
  const names = AsnConvert.parse(extension.extnValue.buffer, SubjectAlternativeName);
  const out: Array<{ hwType: string; serial: Buffer }> = [];
  for (const name of names) {
    if (name.otherName?.typeId !== ID_ON_HARDWARE_MODULE_NAME) continue;
    const module = AsnConvert.parse(name.otherName.value, HardwareModuleName);
    out.push({ hwType: module.hwType, serial: Buffer.from(module.hwSerialNum.buffer) });
  }
  return out;
}
