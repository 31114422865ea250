import type { CertificateAuthority } from '@rampart/trust';
import { SecuritySubsystem } from './security-subsystem.js';

export interface ManufacturedDevice {
  readonly security: SecuritySubsystem;
  /** The manufacturer-endorsed identity certificate (IDevID), PEM. */
  readonly identityCertificatePem: string;
}

/**
 * The factory step: the security subsystem makes its key, and the
 * manufacturer CA endorses the public key with an IDevID certificate.
 */
export async function manufactureDevice(manufacturerCa: CertificateAuthority): Promise<ManufacturedDevice> {
  const security = new SecuritySubsystem();
  const certificate = await manufacturerCa.issueDeviceIdentity(security.deviceId, security.publicKeySpki);
  return { security, identityCertificatePem: certificate.toString('pem') };
}
