import { createHash, X509Certificate } from 'node:crypto';
import type { BootMeasurement, PsaTokenEvidence } from '@rampart/contracts';
import { PSA_LIFECYCLE, createPsaToken, instanceIdOf, type PsaClaims } from '@rampart/trust';
import type { SecuritySubsystem } from './security-subsystem.js';

/** SHA-256 of an image, as the secure boot chain measures it. */
export function measure(image: Uint8Array): string {
  return createHash('sha256').update(image).digest('hex');
}

export interface BootState {
  readonly bootLog: readonly BootMeasurement[];
  /** Each measured stage's signer key id (hex SHA-256 of its SPKI). */
  readonly signers: Readonly<Record<string, string>>;
  readonly securityVersions: Readonly<Record<string, number>>;
  readonly versions: { readonly os: string; readonly apps: Readonly<Record<string, string>> };
}

/** The caller of the attestation service: the non-secure OS (negative partition ids are the NSPE's, RFC 9783 §4.1.2). */
export const NSPE_CLIENT_ID = -1;
const ROM_STAGE = 'rom';
const NO_SIGNER = Buffer.alloc(32);

/**
 * The claims of a PSA token for this boot: the ROM (the immutable RoT) is the implementation id; every later
 * stage a software component with its role (Rampart's stage name), measurement, image version and signer;
 * the platform's nonce as `eat_nonce`; lifecycle "secured"; the anti-rollback counters in Rampart's private claim.
 */
export function psaClaimsFor(security: SecuritySubsystem, nonce: string, boot: BootState): PsaClaims {
  const rom = boot.bootLog.find((m) => m.stage === ROM_STAGE);
  return {
    nonce: Buffer.from(nonce, 'base64url'),
    instanceId: instanceIdOf(security.publicKey),
    implementationId: rom === undefined ? Buffer.alloc(32) : Buffer.from(rom.sha256, 'hex'),
    clientId: NSPE_CLIENT_ID,
    securityLifecycle: PSA_LIFECYCLE.secured,
    bootSeed: security.bootSeed,
    softwareComponents: boot.bootLog
      .filter((m) => m.stage !== ROM_STAGE)
      .map((m) => {
        const version = m.stage === 'os' ? boot.versions.os : m.stage.startsWith('app:') ? boot.versions.apps[m.stage.slice(4)] : undefined;
        const signer = boot.signers[m.stage];
        return {
          measurementType: m.stage,
          measurementValue: Buffer.from(m.sha256, 'hex'),
          ...(version === undefined || version === '' ? {} : { version }),
          signerId: signer === undefined ? NO_SIGNER : Buffer.from(signer, 'hex'),
        };
      }),
    securityVersions: { ...boot.securityVersions },
  };
}

/** The IDevID certificate as the envelope carries it: DER, base64url. */
export function certificateForEnvelope(certificatePem: string): string {
  return new X509Certificate(certificatePem).raw.toString('base64url');
}

/**
 * Evidence for one attestation: a PSA token (RFC 9783) for the boot state and the platform's nonce, signed
 * inside the security subsystem, beside the IDevID that certifies its key.
 */
export function createPsaEvidence(
  security: SecuritySubsystem,
  identityCertificatePem: string,
  nonce: string,
  boot: BootState,
): PsaTokenEvidence {
  const token = createPsaToken(psaClaimsFor(security, nonce, boot), (tbs) => security.attestationSign(tbs));
  return {
    kind: 'psa-token',
    token: Buffer.from(token).toString('base64url'),
    iakCertificate: certificateForEnvelope(identityCertificatePem),
  };
}
