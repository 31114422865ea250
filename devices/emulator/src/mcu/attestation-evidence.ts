import { createHash, X509Certificate } from 'node:crypto';
import { PSA_TOKEN_KIND, type PsaTokenEvidence } from '@rampart/contracts';
import { PSA_LIFECYCLE, createPsaToken, instanceIdOf, psaBootClaims, type PsaBootSource, type PsaClaims } from '@rampart/trust';
import type { Attestor } from '../device/attestor.js';
import type { AttestChallenge } from '../device/device-messages.js';
import type { BootResult } from './secure-boot.js';
import type { SecuritySubsystem } from './security-subsystem.js';

/** SHA-256 of an image, as the secure boot chain measures it. */
export function measure(image: Uint8Array): string {
  return createHash('sha256').update(image).digest('hex');
}

export interface BootState extends PsaBootSource {
  readonly securityVersions: Readonly<Record<string, number>>;
}

/** The caller of the attestation service: the non-secure OS (negative partition ids are the NSPE's, RFC 9783 §4.1.2). */
export const NSPE_CLIENT_ID = -1;

/**
 * The claims of a PSA token for this boot: the ROM (the immutable RoT) as the implementation id and every later
 * stage as a software component (`psaBootClaims`, the mapping the verifier reads back); the platform's nonce as
 * `eat_nonce`; this power-on's boot seed; lifecycle "secured"; the anti-rollback counters in Rampart's private
 * claim. Throws `PsaBootStateError` when the ROM or a stage's signer is missing: a token never claims what secure
 * boot did not measure.
 */
export function psaClaimsFor(security: SecuritySubsystem, nonce: string, boot: BootState): PsaClaims {
  return {
    nonce: Buffer.from(nonce, 'base64url'),
    instanceId: instanceIdOf(security.publicKey),
    ...psaBootClaims(boot),
    clientId: NSPE_CLIENT_ID,
    securityLifecycle: PSA_LIFECYCLE.secured,
    bootSeed: security.bootSeed,
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
    kind: PSA_TOKEN_KIND,
    token: Buffer.from(token).toString('base64url'),
    iakCertificate: certificateForEnvelope(identityCertificatePem),
  };
}

/** The MCU's attestor: a bare request, then a PSA token for the nonce, signed by the security subsystem over what secure boot measured. */
export class PsaAttestor implements Attestor {
  readonly kind = PSA_TOKEN_KIND;
  private boot: BootState | undefined;

  constructor(
    private readonly security: SecuritySubsystem,
    private readonly identityCertificatePem: string,
  ) {}

  booted(result: BootResult): void {
    const { bootLog, signers, securityVersions, versions } = result;
    this.boot = { bootLog, signers, securityVersions, versions };
  }

  request(): string {
    return '{}';
  }

  evidence(challenge: AttestChallenge): PsaTokenEvidence {
    if (challenge.type !== 'nonce') throw new Error(`a PSA device cannot answer a ${challenge.type} challenge`);
    if (this.boot === undefined) throw new Error('the device has not booted');
    return createPsaEvidence(this.security, this.identityCertificatePem, challenge.nonce, this.boot);
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
