import { X509Certificate } from 'node:crypto';
import { OperationalCertificateIssuer, derToPem, type CertificateAuthority } from '@rampart/trust';

export interface TestOperationalCertificate {
  readonly certificatePem: string;
  readonly chainPem: string;
  readonly notAfter: number;
}

/**
 * Issues operational device certificates (LDevID) from a tenant CA under the
 * given platform root, without the attestation service: for tests of paths
 * that start after attestation (telemetry, floods, ACLs).
 */
export async function createTestTenantIssuer(
  platformCa: CertificateAuthority,
  tenantId = 'test',
): Promise<(device: { security: { deviceId: string; publicKeySpki: Buffer } }, lifetimeMs?: number) => TestOperationalCertificate> {
  const tenantCa = await platformCa.issueIntermediate(`Test tenant ${tenantId} CA`, 30, { tenantId });
  const issuer = new OperationalCertificateIssuer(
    Buffer.from(tenantCa.certificate.rawData),
    (await tenantCa.export()).privateKeyPem,
    tenantId,
  );
  const chainPem = `${tenantCa.certificatePem.trim()}\n`;
  return (device, lifetimeMs = 3_600_000) => {
    const now = Date.now();
    const der = issuer.issue({
      deviceId: device.security.deviceId,
      tenantId,
      subjectPublicKeySpki: device.security.publicKeySpki,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + lifetimeMs),
    });
    return { certificatePem: derToPem(der), chainPem, notAfter: new Date(new X509Certificate(der).validTo).getTime() };
  };
}
