import { SpanKind, trace, type Counter, type Meter, type Tracer } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import {
  AttestationReason,
  TPM2_QUOTE_KIND,
  type AttestationFailedEvent,
  type EvidenceKind,
  type EvidenceVerifyReply,
  type NonceIssueReply,
  type RecoveryGrantReply,
  type Tpm2AttestRequest,
  type Tpm2ChallengeReply,
} from '@rampart/contracts';
import type { Clock, Logger } from '@rampart/service-kit';
import { SigningUnavailableError } from '@rampart/service-kit/signing';
import { boundedDetail } from '@rampart/trust';
import type { IssuedCertificate, TenantAuthorities } from '../ca/tenant-authorities.js';
import type { AttestationBatches } from './attestation-batches.js';
import type { ActiveToken, AttestationRepository } from './attestation.repository.js';
import type { EvidenceVerifier, Recoverable } from './evidence-verifier.js';
import type { NonceStore } from './nonce-store.js';
import type { Tpm2ChallengeIssuer } from './evidence/tpm2-quote/tpm2-challenge-issuer.js';
import type { PolicyCache } from './policy-cache.js';

/** Why an attestation that passed got no certificate: the CA's key provider cannot sign now. */
export const SIGNING_UNAVAILABLE = 'SIGNING_UNAVAILABLE';

/** How long a refusal that a newer OS would cure lets the device fetch one on its IDevID (it re-attests long before). */
export const RECOVERY_GRANT_TTL_MS = 60 * 60_000;

/**
 * The attestation protocol: nonce, then evidence, then a verdict — on pass
 * an operational certificate from the device's tenant CA; on fail no
 * certificate, a recorded verdict with reason codes, an audit entry, a
 * counter and a log line.
 */
export class AttestationService {
  private readonly verdicts: Counter;

  constructor(
    private readonly repository: AttestationRepository,
    private readonly verifier: EvidenceVerifier,
    private readonly nonces: NonceStore,
    private readonly batches: AttestationBatches,
    private readonly policies: PolicyCache,
    private readonly authorities: TenantAuthorities,
    private readonly clock: Clock,
    private readonly logger: Logger,
    meter: Meter,
    /** Publishes a refusal durably, as a failure report for the failures service. */
    private readonly reportFailure: (event: AttestationFailedEvent) => Promise<void>,
    private readonly tracer: Tracer = trace.getTracer('attestation'),
    /** TPM credential challenges; without it (no TPM vendor roots configured) TPM devices are refused EK_UNTRUSTED. */
    private readonly tpm2Challenges?: Tpm2ChallengeIssuer,
  ) {
    this.verdicts = meter.createCounter('rampart_attestation_verdicts_total', { description: 'Attestation verdicts by result and reason' });
  }

  /** The gateway asks on behalf of a device it authenticated by IDevID. Sealed nonces need no storage. */
  issueNonce(deviceId: string): Promise<NonceIssueReply> {
    return this.nonces.issue(deviceId, this.clock.now());
  }

  /**
   * A TPM device's first message: its EK must come from a trusted TPM vendor and its AK be a restricted signing key;
   * then a nonce, delivered only inside MakeCredential(EK, Name(AK)). A refusal is recorded like any verdict.
   */
  async tpm2Challenge(deviceId: string, request: Tpm2AttestRequest): Promise<Tpm2ChallengeReply> {
    const answer = (await this.tpm2Challenges?.issue(deviceId, request, this.clock.now())) ?? {
      reason: AttestationReason.ekUntrusted,
      detail: 'no TPM vendor roots are configured',
    };
    if ('reason' in answer) {
      const refused = await this.refuse(deviceId, [answer.reason], TPM2_QUOTE_KIND, undefined, answer.detail);
      return { pass: false, reasons: refused.pass ? [] : refused.reasons };
    }
    return { pass: true, challenge: answer };
  }

  tokenByHash(tokenHash: string): Promise<ActiveToken | undefined> {
    return this.repository.findToken(tokenHash);
  }

  async claimedBy(deviceId: string): Promise<string | null> {
    return (await this.repository.deviceState(deviceId))?.claimedBy ?? null;
  }

  revokedDevices(): Promise<string[]> {
    return this.repository.revokedDeviceIds();
  }

  /**
   * The update server asks before it serves a device on its IDevID: granted only while the device's last
   * refusal was one a newer OS cures (see EvidenceVerifier), it is still claimed by that tenant and not revoked.
   */
  async recoveryGrant(deviceId: string): Promise<RecoveryGrantReply> {
    const grant = await this.repository.recoveryGrant(deviceId);
    return grant === undefined
      ? { granted: false }
      : {
          granted: true,
          tenantId: grant.tenantId,
          osSecurityVersion: grant.osSecurityVersion,
          osMeasurement: grant.osMeasurement,
          expiresAt: new Date(grant.expiresAt).getTime(),
        };
  }

  async verify(connectionDeviceId: string, evidence: string): Promise<EvidenceVerifyReply> {
    const now = this.clock.now();
    const verdict = await this.verifier.verify(Buffer.from(evidence, 'utf8'), {
      now,
      nonces: this.nonces,
      device: (id) => this.batches.deviceState(id),
      policy: (e) => this.policies.policyFor(e.bootLog),
    });
    if (verdict.pass && verdict.evidence.deviceId !== connectionDeviceId) {
      return this.refuse(connectionDeviceId, [AttestationReason.deviceMismatch], verdict.kind);
    }
    if (!verdict.pass) {
      // A grant only for the device this connection proved, on evidence that names it.
      const recoverable = verdict.deviceId === connectionDeviceId ? verdict.recoverable : undefined;
      return this.refuse(connectionDeviceId, verdict.reasons, verdict.kind, recoverable, verdict.detail);
    }
    const { deviceId } = verdict.evidence;
    const issued = await this.issue(verdict.tenantId, deviceId, verdict.evidence.devicePublicKeySpki, now);
    // The certificate, verdict and audit row, written with other attestations' in one transaction (see AttestationBatches).
    await this.tracer.startActiveSpan(
      'INSERT attestation.certificates',
      { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql', 'db.operation.name': 'INSERT', 'rampart.device_id': deviceId } },
      (span) =>
        this.batches
          .recordPass({
            serial: issued.serial,
            deviceId,
            tenantId: verdict.tenantId,
            caId: issued.caId,
            notBefore: issued.notBefore,
            notAfter: issued.notAfter,
            kind: verdict.kind,
            audit: {
              serial: issued.serial,
              notAfter: issued.notAfter.toISOString(),
              os: verdict.evidence.versions.os,
              evidence: verdict.kind,
            },
          })
          .finally(() => span.end()),
    );
    this.verdicts.add(1, { result: 'pass', kind: verdict.kind });
    return { pass: true, certificatePem: issued.certificatePem, chainPem: issued.chainPem, notAfter: issued.notAfter.getTime() };
  }

  /**
   * The certificate for a device that passed. When the CA's key provider
   * cannot sign (a token pulled, its PIN refused), the attestation is refused
   * as unavailable — counted, logged and audited like other refusals, with
   * the key and the provider's error named — and never signed another way.
   * No verdict is recorded against the device: the fault is the platform's,
   * and the device retries.
   */
  private async issue(tenantId: string, deviceId: string, spki: Uint8Array, now: number): Promise<IssuedCertificate & { caId: string }> {
    try {
      return await this.authorities.issueDeviceCertificate(tenantId, deviceId, spki, now);
    } catch (error) {
      if (!(error instanceof SigningUnavailableError)) throw error;
      // Which key and why (its provider's error) are logged and audited here; the device is told the fixed words only.
      const { failure, key } = error;
      this.verdicts.add(1, { result: 'unavailable', reason: SIGNING_UNAVAILABLE, error: failure });
      this.logger.warn(
        { deviceId, tenantId, reason: SIGNING_UNAVAILABLE, error: failure, key, err: error },
        'attestation refused: the CA cannot sign',
      );
      await this.repository
        .audit({
          tenantId,
          actor: `device:${deviceId}`,
          action: 'attestation.unavailable',
          subject: deviceId,
          detail: { reason: SIGNING_UNAVAILABLE, error: failure, key: key ?? null },
        })
        .catch((auditError: unknown) => this.logger.error({ err: auditError, deviceId }, 'audit of a refused attestation failed'));
      throw error;
    }
  }

  /**
   * Records a refusal against the device the gateway authenticated, never the
   * id the evidence claims: forged evidence naming another device must not
   * touch that device's record.
   */
  private async refuse(
    deviceId: string,
    reasons: readonly string[],
    kind: EvidenceKind | undefined,
    recoverable?: Recoverable,
    unboundedDetail?: string,
  ): Promise<EvidenceVerifyReply> {
    // Details quote device input: bounded once here, whichever path refused.
    const detail = unboundedDetail === undefined ? undefined : boundedDetail(unboundedDetail);
    const tenantId = (await this.repository.deviceState(deviceId))?.claimedBy ?? null;
    const codes = reasons as Parameters<AttestationRepository['recordVerdict']>[3];
    const grant = recoverable === undefined ? undefined : { ...recoverable, expiresAt: new Date(this.clock.now() + RECOVERY_GRANT_TTL_MS) };
    await this.repository.transaction(async (tx) => {
      await tx.recordVerdict(deviceId, tenantId, false, codes, kind ?? null);
      // Only a device the registry knows can hold a grant (the row it refers to).
      if (tenantId !== null) await tx.setRecoveryGrant(deviceId, grant);
      await tx.audit({
        tenantId,
        actor: `device:${deviceId}`,
        action: 'attestation.fail',
        subject: deviceId,
        detail: {
          reasons,
          evidence: kind ?? null,
          recovery: grant === undefined ? null : { osSecurityVersion: grant.osSecurityVersion },
        },
      });
    });
    for (const reason of reasons) this.verdicts.add(1, { result: 'fail', reason, kind: kind ?? 'unreadable' });
    this.logger.warn({ deviceId, tenantId, reasons, kind, detail, recoverable: grant !== undefined }, 'attestation refused');
    // The verdict is stored whatever happens here; a lost report is logged, and the verdict log still holds it.
    await this.reportFailure({ id: randomUUID(), deviceId, tenantId, reasons: [...codes], at: this.clock.now() }).catch((error: unknown) =>
      this.logger.error({ err: error, deviceId }, 'attestation failure report not published'),
    );
    return { pass: false, reasons: [...reasons] };
  }
}
