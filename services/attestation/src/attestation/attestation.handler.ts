import { Controller, Inject } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import {
  Subject,
  type EvidenceVerifyReply,
  type NonceIssueReply,
  type RecoveryGrantReply,
  type TokenIntrospectReply,
  type Tpm2AttestRequest,
  type Tpm2ChallengeReply,
} from '@rampart/contracts';
import { AttestationAdmission } from './attestation-admission.js';
import { AttestationService } from './attestation.service.js';

/** Bus requests from the gateway; the transport has validated them against the contracts. */
@Controller()
export class AttestationHandler {
  constructor(
    @Inject(AttestationService) private readonly attestation: AttestationService,
    @Inject(AttestationAdmission) private readonly admission: AttestationAdmission,
  ) {}

  @MessagePattern(Subject.attestationNonceIssue)
  nonce(request: { deviceId: string; timeoutMs?: number | undefined }): Promise<NonceIssueReply> {
    return this.admission.admit(request.deviceId, request.timeoutMs, () => this.attestation.issueNonce(request.deviceId));
  }

  @MessagePattern(Subject.attestationTpm2Challenge)
  tpm2Challenge(request: { deviceId: string; request: Tpm2AttestRequest; timeoutMs?: number | undefined }): Promise<Tpm2ChallengeReply> {
    return this.admission.admit(request.deviceId, request.timeoutMs, () =>
      this.attestation.tpm2Challenge(request.deviceId, request.request),
    );
  }

  @MessagePattern(Subject.attestationRevocationsList)
  async revocations(): Promise<{ deviceIds: string[] }> {
    return { deviceIds: await this.attestation.revokedDevices() };
  }

  @MessagePattern(Subject.attestationTokenIntrospect)
  async introspect(request: { tokenHash: string }): Promise<TokenIntrospectReply> {
    const token = await this.attestation.tokenByHash(request.tokenHash);
    if (token === undefined) return { valid: false };
    return { valid: true, tenantId: token.tenantId, role: token.role, ...(token.expiresAt === null ? {} : { expiresAt: token.expiresAt }) };
  }

  @MessagePattern(Subject.attestationDeviceTenant)
  async tenant(request: { deviceId: string }): Promise<{ tenantId: string | null }> {
    return { tenantId: await this.attestation.claimedBy(request.deviceId) };
  }

  @MessagePattern(Subject.attestationRecoveryGrant)
  recoveryGrant(request: { deviceId: string }): Promise<RecoveryGrantReply> {
    return this.attestation.recoveryGrant(request.deviceId);
  }

  @MessagePattern(Subject.attestationEvidenceVerify)
  verify(request: { deviceId: string; evidence: string; timeoutMs?: number | undefined }): Promise<EvidenceVerifyReply> {
    return this.admission.admit(request.deviceId, request.timeoutMs, () => this.attestation.verify(request.deviceId, request.evidence));
  }
}
