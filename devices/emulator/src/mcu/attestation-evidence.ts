import { createHash } from 'node:crypto';
import type { AttestationEvidence, BootMeasurement, SignedEvidence } from '@rampart/contracts';
import type { SecuritySubsystem } from './security-subsystem.js';

/** SHA-256 of an image, as the secure boot chain measures it. */
export function measure(image: Uint8Array): string {
  return createHash('sha256').update(image).digest('hex');
}

export interface BootState {
  readonly bootLog: readonly BootMeasurement[];
  readonly securityVersions: Readonly<Record<string, number>>;
  readonly versions: { readonly os: string; readonly apps: Readonly<Record<string, string>> };
}

/**
 * Evidence for one attestation: the boot state and the platform's nonce,
 * signed inside the security subsystem over the exact bytes sent.
 */
export function createSignedEvidence(security: SecuritySubsystem, endorsementPem: string, nonce: string, boot: BootState): SignedEvidence {
  const evidence: AttestationEvidence = {
    deviceId: security.deviceId,
    nonce,
    bootLog: [...boot.bootLog],
    securityVersions: { ...boot.securityVersions },
    versions: { os: boot.versions.os, apps: { ...boot.versions.apps } },
    endorsement: endorsementPem,
  };
  const bytes = Buffer.from(JSON.stringify(evidence));
  return { evidence: bytes.toString('base64url'), signature: security.sign(bytes).toString('base64url') };
}
