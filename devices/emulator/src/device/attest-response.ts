import { X509Certificate } from 'node:crypto';
import type { AttestationResponse } from '@rampart/contracts';
import type { DeviceEvent } from './device-messages.js';

/**
 * The machine's event for what the platform published on the device's
 * attestation response topic (on `connection`): a challenge (a nonce or a TPM credential), a verdict, or an
 * error (a refusal with the error's code). Undefined for a payload that is
 * not JSON: the device ignores it and its attestation timeout takes over.
 */
export function attestResponseEvent(connection: number, payload: Buffer): DeviceEvent | undefined {
  let response: AttestationResponse;
  try {
    response = JSON.parse(payload.toString('utf8')) as AttestationResponse;
  } catch {
    return undefined;
  }
  // The attestor answers either kind of challenge; one that does not know it sends nothing and times out.
  if (response.type === 'nonce' || response.type === 'tpm2-credential') return { type: 'challenge', connection, challenge: response };
  const verdict = response.type === 'verdict' ? response.verdict : { pass: false as const, reasons: [response.code] };
  if (!verdict.pass) return { type: 'attestation-refused', connection, reasons: verdict.reasons };
  // Renewal is timed from the certificate's own validity, not from when the verdict arrived.
  const certificate = new X509Certificate(verdict.certificatePem);
  return {
    type: 'attestation-passed',
    connection,
    certificate: { certificatePem: verdict.certificatePem, chainPem: verdict.chainPem, notAfter: verdict.notAfter },
    validFrom: new Date(certificate.validFrom).getTime(),
    validTo: new Date(certificate.validTo).getTime(),
  };
}
