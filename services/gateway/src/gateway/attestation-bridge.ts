import { Subject, type AttestationResponse } from '@rampart/contracts';
import { BusError, type TypedBus } from '@rampart/service-kit';

/** Attestation round trips can take a database write and a signature; devices wait this long at most. */
const ATTESTATION_TIMEOUT_MS = 10_000;

/**
 * Carries a device's attestation messages to the attestation service over
 * NATS request/reply. The device id is the one the connection proved, never
 * one from the payload; the evidence is passed on as the device sent it.
 */
export class AttestationBridge {
  constructor(private readonly bus: TypedBus) {}

  async requestNonce(deviceId: string): Promise<AttestationResponse> {
    try {
      const reply = await this.bus.request(Subject.attestationNonceIssue, { deviceId }, ATTESTATION_TIMEOUT_MS);
      return { type: 'nonce', nonce: reply.nonce, expiresAt: reply.expiresAt };
    } catch (error) {
      return this.error(error);
    }
  }

  async submitEvidence(deviceId: string, payload: Buffer): Promise<AttestationResponse> {
    try {
      const verdict = await this.bus.request(
        Subject.attestationEvidenceVerify,
        { deviceId, evidence: payload.toString('utf8') },
        ATTESTATION_TIMEOUT_MS,
      );
      return { type: 'verdict', verdict };
    } catch (error) {
      return this.error(error);
    }
  }

  private error(error: unknown): AttestationResponse {
    if (error instanceof BusError) return { type: 'error', code: error.code, message: error.message };
    return { type: 'error', code: 'INTERNAL', message: 'attestation failed' };
  }
}
