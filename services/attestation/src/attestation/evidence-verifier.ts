import { X509Certificate, verify as verifySignature } from 'node:crypto';
import {
  AttestationEvidenceSchema,
  AttestationReason,
  FIXED_BOOT_STAGES,
  MAX_EVIDENCE_BYTES,
  SignedEvidenceSchema,
  TPM2_QUOTE_KIND,
  type AttestationEvidence,
  type AttestationReasonCode,
} from '@rampart/contracts';
import { deviceIdFromSpki, spkiOf } from '@rampart/trust';
import type { NonceStore } from './nonce-store.js';
import { Tpm2QuoteAuthenticator } from './evidence/tpm2-quote/tpm2-quote.authenticator.js';

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

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
  readonly policy: (evidence: AttestationEvidence) => Promise<AttestationPolicy>;
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
  | { readonly pass: true; readonly evidence: AttestationEvidence; readonly tenantId: string; readonly devicePublicKeySpki: Buffer }
  | {
      readonly pass: false;
      readonly reasons: readonly AttestationReasonCode[];
      readonly deviceId: string | undefined;
      readonly recoverable?: Recoverable;
      /** For the log: what exactly was wrong (never sent to the device). */
      readonly detail?: string;
    };

function fail(reasons: AttestationReasonCode[], deviceId?: string, detail?: string): Verdict {
  return { pass: false, reasons, deviceId, ...(detail === undefined ? {} : { detail }) };
}

interface Authenticated {
  readonly evidence: AttestationEvidence;
  readonly spki: Buffer;
}

/** The one stage (and security-version component) recovery may replace. */
const RECOVERY_COMPONENT = 'os';

interface PolicyFault {
  readonly reason: AttestationReasonCode;
  /** The boot stage or security-version component at fault; undefined for the boot log as a whole. */
  readonly component: string | undefined;
}

/**
 * Checks one device's signed evidence. Order matters: nothing the device
 * sends is trusted until the endorsement chains to a manufacturer root and
 * the signature verifies with the endorsed key; only then is the nonce spent
 * (so nobody else can burn a device's nonce), and only then are the device's
 * claims compared with policy. Policy failures are all reported, not only
 * the first.
 */
export class EvidenceVerifier {
  private readonly roots: readonly X509Certificate[];

  /** `tpm2`: the `tpm2-quote` kind's authenticator; without it, TPM evidence is refused as malformed. */
  constructor(
    manufacturerRootsPem: readonly string[],
    private readonly tpm2?: Tpm2QuoteAuthenticator,
  ) {
    this.roots = manufacturerRootsPem.map((pem) => new X509Certificate(pem));
  }

  async verify(raw: Uint8Array, context: VerificationContext): Promise<Verdict> {
    if (raw.byteLength > MAX_EVIDENCE_BYTES * 2) return fail([AttestationReason.evidenceTooLarge]);
    const authenticated = await this.authenticate(raw, context);
    if ('pass' in authenticated) return authenticated;
    const { evidence, spki } = authenticated;

    // Asked together, so a batching store can answer both in one round trip.
    const [nonce, device] = await Promise.all([
      context.nonces.consume(evidence.nonce, evidence.deviceId, context.now),
      context.device(evidence.deviceId),
    ]);
    if (!nonce.ok) return fail([nonce.reason], evidence.deviceId);

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
        reasons: [...new Set(reasons)],
        deviceId: evidence.deviceId,
        ...(recoverable === undefined ? {} : { recoverable }),
      };
    }
    return {
      pass: true,
      evidence,
      tenantId,
      devicePublicKeySpki: spki,
    };
  }

  /** The evidence, once its endorsement and signature hold, by kind: a TPM quote (`kind: 'tpm2-quote'`) or signed JSON. */
  private async authenticate(raw: Uint8Array, context: VerificationContext): Promise<Authenticated | Verdict> {
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(raw).toString('utf8'));
    } catch {
      return fail([AttestationReason.malformedEvidence]);
    }
    if ((json as { kind?: unknown } | null)?.kind === TPM2_QUOTE_KIND) return this.authenticateTpm2(json, context);
    const parsed = this.parse(json);
    if ('reason' in parsed) return fail([parsed.reason]);
    const { evidence, evidenceBytes, signature } = parsed;
    const endorsement = this.checkEndorsement(evidence, context.now);
    if ('reason' in endorsement) return fail([endorsement.reason], evidence.deviceId);
    if (!verifySignature('sha256', evidenceBytes, endorsement.certificate.publicKey, signature)) {
      return fail([AttestationReason.signatureInvalid], evidence.deviceId);
    }
    return { evidence, spki: endorsement.spki };
  }

  private async authenticateTpm2(json: unknown, context: VerificationContext): Promise<Authenticated | Verdict> {
    const envelope = Tpm2QuoteAuthenticator.parse(json);
    if (this.tpm2 === undefined || envelope === undefined) return fail([AttestationReason.malformedEvidence]);
    const result = this.tpm2.authenticate(envelope, context.now);
    if ('reason' in result) {
      // A quote of another nonce: if that nonce was ours for this device (spent, expired), the quote is a replay.
      if (result.quotedNonce !== undefined && result.deviceId !== undefined) {
        const outcome = await context.nonces.consume(result.quotedNonce, result.deviceId, context.now);
        if (!outcome.ok && outcome.reason !== AttestationReason.nonceUnknown) return fail([outcome.reason], result.deviceId, result.detail);
      }
      return fail([result.reason], result.deviceId, result.detail);
    }
    const { devicePublicKeySpki, ...evidence } = result;
    return { evidence: { ...evidence, bootLog: [...evidence.bootLog] }, spki: devicePublicKeySpki };
  }

  private parse(
    envelope: unknown,
  ): { evidence: AttestationEvidence; evidenceBytes: Buffer; signature: Buffer } | { reason: AttestationReasonCode } {
    const signed = SignedEvidenceSchema.safeParse(envelope);
    if (!signed.success) return { reason: AttestationReason.malformedEvidence };
    const evidenceBytes = Buffer.from(signed.data.evidence, 'base64url');
    if (evidenceBytes.length > MAX_EVIDENCE_BYTES) return { reason: AttestationReason.evidenceTooLarge };
    let body: unknown;
    try {
      body = JSON.parse(evidenceBytes.toString('utf8'));
    } catch {
      return { reason: AttestationReason.malformedEvidence };
    }
    const evidence = AttestationEvidenceSchema.safeParse(body);
    if (!evidence.success) return { reason: AttestationReason.malformedEvidence };
    return { evidence: evidence.data, evidenceBytes, signature: Buffer.from(signed.data.signature, 'base64url') };
  }

  /** The IDevID must chain to a trusted manufacturer root, be in date, be for client auth, and name the key it holds. */
  private checkEndorsement(
    evidence: AttestationEvidence,
    now: number,
  ): { certificate: X509Certificate; spki: Buffer } | { reason: AttestationReasonCode } {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(evidence.endorsement);
    } catch {
      return { reason: AttestationReason.endorsementInvalid };
    }
    const issuedByRoot = this.roots.some((root) => certificate.checkIssued(root) && certificate.verify(root.publicKey));
    const inDate = new Date(certificate.validFrom).getTime() <= now && now <= new Date(certificate.validTo).getTime();
    const usages = certificate.keyUsage;
    const forClientAuth = usages === undefined || usages.includes(CLIENT_AUTH_OID);
    if (!issuedByRoot || !inDate || !forClientAuth || certificate.ca) return { reason: AttestationReason.endorsementInvalid };
    const spki = spkiOf(certificate.publicKey);
    if (deviceIdFromSpki(spki) !== evidence.deviceId) return { reason: AttestationReason.deviceMismatch };
    return { certificate, spki };
  }

  private checkMeasurements(evidence: AttestationEvidence, policy: AttestationPolicy): PolicyFault[] {
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

  private checkFloors(evidence: AttestationEvidence, policy: AttestationPolicy): PolicyFault[] {
    const faults: PolicyFault[] = [];
    for (const [component, floor] of policy.floors) {
      const version = evidence.securityVersions[component];
      if (version === undefined || version < floor) faults.push({ reason: AttestationReason.securityVersionBelowFloor, component });
    }
    return faults;
  }
}
