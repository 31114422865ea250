import { AttestationReason, type Tpm2AttestRequest } from '@rampart/contracts';
import { checkAttestationKey, objectName, parseTpm2bPublic, publicKeyOf, tpmSerialOf, type TpmPublic } from '@rampart/trust';
import type { AuthenticationRefusal } from '../evidence-authenticator.js';
import type { TpmVendorEndorsement } from '../tpm-vendor-endorsement.js';

/** A refusal of a TPM quote or challenge: always with what was wrong, for the log. */
export type TpmRefusal = AuthenticationRefusal & { readonly detail: string };

/** A TPM whose EK a vendor endorsed and whose AK is an attestation key. */
export interface CheckedTpm {
  readonly ek: TpmPublic;
  readonly ekSerial: Buffer;
  readonly ak: TpmPublic;
  readonly akName: Buffer;
}

export const fromBase64url = (value: string): Buffer => Buffer.from(value, 'base64url');

/** The checks both messages start with: a trusted EK fit for a credential (EK_UNTRUSTED), a proper AK (AK_INVALID). */
export function checkTpm(
  vendors: TpmVendorEndorsement,
  request: Pick<Tpm2AttestRequest, 'ekCertificate' | 'ekPublic' | 'akPublic'>,
  now: number,
): CheckedTpm | TpmRefusal {
  let ek: TpmPublic;
  try {
    ek = parseTpm2bPublic(fromBase64url(request.ekPublic));
  } catch (error) {
    return { reason: AttestationReason.ekUntrusted, detail: `EK public: ${String(error)}` };
  }
  const ekFault = vendors.check(ek, fromBase64url(request.ekCertificate), now);
  if (ekFault !== undefined) return { reason: AttestationReason.ekUntrusted, detail: ekFault };
  const ak = checkAttestationKey(fromBase64url(request.akPublic));
  if ('fault' in ak) return { reason: AttestationReason.akInvalid, detail: ak.detail };
  return { ek, ekSerial: tpmSerialOf(publicKeyOf(ek)), ak, akName: objectName(ak) };
}

/** What a sealed challenge is bound to: the device, its EK and its AK. */
export function challengeBinding(deviceId: string, tpm: CheckedTpm): Buffer[] {
  return [Buffer.from(deviceId), tpm.ekSerial, tpm.akName];
}
