import { boundedDetail } from '@rampart/trust';
import {
  AttestationReason,
  EvidenceEnvelopeSchema,
  FIXED_BOOT_STAGES,
  MAX_EVIDENCE_BYTES,
  type AttestationReasonCode,
  type EvidenceEnvelope,
  type EvidenceKind,
} from '@rampart/contracts';
import type { AuthenticatedEvidence, AuthenticationRefusal } from './evidence/evidence-authenticator.js';
import type { Authenticators } from './evidence/evidence-authenticators.js';
import type { NonceStore } from './nonce-store.js';

/** Known-good measurements (from image releases) and anti-rollback floors. */
export interface AttestationPolicy {
  /** `measurementKey(stage, sha256)` → released or revoked. */
  readonly measurements: ReadonlyMap<string, 'released' | 'revoked'>;
  /** Component → lowest acceptable security version. */
  readonly floors: ReadonlyMap<string, number>;
}

export function measurementKey(stage: string, sha256: string): string {
  return `${stage}|${sha256}`;
}

export interface DeviceState {
  readonly claimedBy: string | null;
  readonly revoked: boolean;
}

export interface VerificationContext {
  readonly now: number;
  /** The policy for this evidence's boot log (looked up only once the evidence is authentic). */
  readonly policy: (evidence: AuthenticatedEvidence) => Promise<AttestationPolicy>;
  readonly nonces: NonceStore;
  readonly device: (deviceId: string) => Promise<DeviceState | undefined>;
  /** When the request names a tenant, a device claimed by another one is refused. */
  readonly expectedTenant?: string;
}

/**
 * A refused device that a newer OS would cure: its evidence is authentic and fresh, it is claimed and not
 * revoked, every stage below the OS (ROM, bootloader, security monitor) and every app is known-good, and the
 * only faults are the OS's own measurement (unknown or revoked) or its security version under the floor.
 */
export interface Recoverable {
  readonly tenantId: string;
  /** The OS anti-rollback counter the device reported: no OS below it is served to it. */
  readonly osSecurityVersion: number;
  /** The OS measurement it booted: recovery brings another. */
  readonly osMeasurement: string;
}

export type Verdict =
  | { readonly pass: true; readonly kind: EvidenceKind; readonly evidence: AuthenticatedEvidence; readonly tenantId: string }
  | {
      readonly pass: false;
      /** The kind the evidence said it was; undefined when it could not be read. */
      readonly kind: EvidenceKind | undefined;
      readonly reasons: readonly AttestationReasonCode[];
      readonly deviceId: string | undefined;
      /** For the log: what exactly was wrong with the evidence (never sent to the device). */
      readonly detail?: string;
      readonly recoverable?: Recoverable;
    };

function fail(kind: EvidenceKind | undefined, reasons: AttestationReasonCode[], deviceId?: string, detail?: string): Verdict {
  return { pass: false, kind, reasons, deviceId, ...(detail === undefined ? {} : { detail }) };
}

/** The one stage (and security-version component) recovery may replace. */
const RECOVERY_COMPONENT = 'os';

interface PolicyFault {
  readonly reason: AttestationReasonCode;
  /** The boot stage or security-version component at fault; undefined for the boot log as a whole. */
  readonly component: string | undefined;
}

/**
 * Checks one device's evidence, whatever its kind. Order matters: nothing the device sends is trusted until
 * its kind's authenticator has checked the endorsement (a chain to a manufacturer root) and the signature with
 * the endorsed key; only then is the nonce spent (so nobody else can burn a device's nonce), and only then are
 * the device's claims compared with policy — the same policy for every kind. Policy failures are all
 * reported, not only the first.
 */
export class EvidenceVerifier {
  /** One authenticator per kind (`createAuthenticators`); a kind without one is refused as malformed. */
  constructor(private readonly authenticators: Authenticators) {}

  async verify(raw: Uint8Array, context: VerificationContext): Promise<Verdict> {
    if (raw.byteLength > MAX_EVIDENCE_BYTES) return fail(undefined, [AttestationReason.evidenceTooLarge]);
    const envelope = this.parse(raw);
    if (envelope === undefined) return fail(undefined, [AttestationReason.malformedEvidence]);
    const authenticated = this.authenticate(envelope, context.now);
    if ('reason' in authenticated) {
      const replayed = await this.replayedNonce(authenticated, context);
      // Bounded whatever the kind: a detail may quote what the device sent, and it goes to the log.
      const detail = authenticated.detail === undefined ? undefined : boundedDetail(authenticated.detail);
      return fail(envelope.kind, [replayed ?? authenticated.reason], authenticated.deviceId, detail);
    }
    const evidence = authenticated;
    const kind = envelope.kind;

    // Asked together, so a batching store can answer both in one round trip.
    const [nonce, device] = await Promise.all([
      context.nonces.consume(evidence.nonce, evidence.deviceId, context.now),
      context.device(evidence.deviceId),
    ]);
    if (!nonce.ok) return fail(kind, [nonce.reason], evidence.deviceId);

    const reasons: AttestationReasonCode[] = [];
    if (device?.revoked === true) reasons.push(AttestationReason.deviceRevoked);
    const tenantId = device?.claimedBy ?? null;
    if (tenantId === null) reasons.push(AttestationReason.deviceUnclaimed);
    else if (context.expectedTenant !== undefined && tenantId !== context.expectedTenant)
      reasons.push(AttestationReason.claimedByOtherTenant);
    const policy = await context.policy(evidence);
    const faults = [...this.checkMeasurements(evidence, policy), ...this.checkFloors(evidence, policy)];
    reasons.push(...faults.map((f) => f.reason));
    if (reasons.length > 0 || tenantId === null) {
      // Recovery only when the OS alone is at fault: anything wrong below it (a tampered bootloader) or
      // with the device's standing is not something a newer OS can cure.
      const osOnly = reasons.length === faults.length && faults.every((f) => f.component === RECOVERY_COMPONENT);
      const osSecurityVersion = evidence.securityVersions[RECOVERY_COMPONENT];
      const osMeasurement = evidence.bootLog.find((m) => m.stage === RECOVERY_COMPONENT)?.sha256;
      const recoverable =
        osOnly && tenantId !== null && osSecurityVersion !== undefined && osMeasurement !== undefined
          ? { tenantId, osSecurityVersion, osMeasurement }
          : undefined;
      return {
        pass: false,
        kind,
        reasons: [...new Set(reasons)],
        deviceId: evidence.deviceId,
        ...(recoverable === undefined ? {} : { recoverable }),
      };
    }
    return { pass: true, kind, evidence, tenantId };
  }

  /** The envelope, JSON of one of the kinds in `EvidenceEnvelopeSchema`; undefined if it is not one. */
  private parse(raw: Uint8Array): EvidenceEnvelope | undefined {
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(raw).toString('utf8'));
    } catch {
      return undefined;
    }
    const envelope = EvidenceEnvelopeSchema.safeParse(json);
    return envelope.success ? envelope.data : undefined;
  }

  private authenticate(envelope: EvidenceEnvelope, now: number): AuthenticatedEvidence | AuthenticationRefusal {
    switch (envelope.kind) {
      case 'psa-token': {
        const authenticator = this.authenticators['psa-token'];
        return authenticator === undefined ? { reason: AttestationReason.malformedEvidence } : authenticator.authenticate(envelope, now);
      }
      case 'tpm2-quote': {
        const authenticator = this.authenticators['tpm2-quote'];
        return authenticator === undefined
          ? { reason: AttestationReason.ekUntrusted, detail: 'no TPM vendor roots are configured' }
          : authenticator.authenticate(envelope, now);
      }
    }
  }

  /**
   * Evidence answering another nonce than the one it was given (a TPM quote with another extraData than the
   * credential's): if that nonce is one of ours for this device, spent or expired, the evidence is a replay and is
   * refused as one (NONCE_REPLAYED, NONCE_EXPIRED), rather than for the binding it also breaks. Spends it if it was not.
   */
  private async replayedNonce(refusal: AuthenticationRefusal, context: VerificationContext): Promise<AttestationReasonCode | undefined> {
    if (refusal.answeredNonce === undefined || refusal.deviceId === undefined) return undefined;
    const outcome = await context.nonces.consume(refusal.answeredNonce, refusal.deviceId, context.now);
    return !outcome.ok && outcome.reason !== AttestationReason.nonceUnknown ? outcome.reason : undefined;
  }

  private checkMeasurements(evidence: AuthenticatedEvidence, policy: AttestationPolicy): PolicyFault[] {
    const faults: PolicyFault[] = [];
    // The fixed stages come first, in boot order, each exactly once.
    const fixed = evidence.bootLog.slice(0, FIXED_BOOT_STAGES.length).map((m) => m.stage);
    const stages = evidence.bootLog.map((m) => m.stage);
    if (fixed.join() !== FIXED_BOOT_STAGES.join() || new Set(stages).size !== stages.length) {
      faults.push({ reason: AttestationReason.bootLogIncomplete, component: undefined });
    }
    for (const { stage, sha256 } of evidence.bootLog) {
      const known = policy.measurements.get(measurementKey(stage, sha256));
      if (known === undefined) faults.push({ reason: AttestationReason.measurementUnknown, component: stage });
      else if (known === 'revoked') faults.push({ reason: AttestationReason.measurementRevoked, component: stage });
    }
    return faults;
  }

  /**
   * A component with a floor must report a security version at or above it. A version the evidence does not report
   * is below every floor, never assumed high enough: so a PSA token without Rampart's private security-version claim
   * (Trusted Firmware-M does not emit it; see PSA_CLAIM.rampartSecurityVersions) cannot satisfy any floor.
   */
  private checkFloors(evidence: AuthenticatedEvidence, policy: AttestationPolicy): PolicyFault[] {
    const faults: PolicyFault[] = [];
    for (const [component, floor] of policy.floors) {
      const version = evidence.securityVersions[component];
      if (version === undefined || version < floor) faults.push({ reason: AttestationReason.securityVersionBelowFloor, component });
    }
    return faults;
  }
}
