import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CertificateAuthority, type IssuedServerCertificate } from './certificate-authority.js';
import { x509 } from './crypto-provider.js';
import { readIfPresent } from './stored-file.js';

/**
 * The keys a development installation needs: a manufacturer CA that endorses
 * emulated devices, a TPM vendor CA that certifies emulated TPMs' EKs, a
 * platform CA, and the gateway's TLS server certificate.
 * Stored in a folder owned by the operator (mode 0700, keys 0600); a
 * production installation brings its own manufacturer roots instead.
 */
export interface DevelopmentPki {
  readonly manufacturerCa: CertificateAuthority;
  readonly platformCa: CertificateAuthority;
  readonly gatewayServer: IssuedServerCertificate;
}

/** The path length a stored CA allows below itself (undefined: unlimited). */
function pathLengthOf(certificatePem: string): number | undefined {
  const constraints = new x509.X509Certificate(certificatePem).getExtension(x509.BasicConstraintsExtension);
  return constraints?.pathLength;
}

async function loadOrCreateCa(dir: string, name: string, commonName: string, pathLength: number): Promise<CertificateAuthority> {
  const certificatePem = await readIfPresent(join(dir, `${name}.crt`));
  const privateKeyPem = await readIfPresent(join(dir, `${name}.key`));
  const allowed = certificatePem === undefined ? undefined : pathLengthOf(certificatePem);
  // A CA made by an older version with too short a path (a platform root must allow tenant CAs) is replaced.
  if (certificatePem !== undefined && privateKeyPem !== undefined && (allowed === undefined || allowed >= pathLength)) {
    return CertificateAuthority.load({ certificatePem, privateKeyPem });
  }
  const ca = await CertificateAuthority.create(commonName, undefined, pathLength);
  const stored = await ca.export();
  await writeFile(join(dir, `${name}.crt`), stored.certificatePem, { mode: 0o644 });
  await writeFile(join(dir, `${name}.key`), stored.privateKeyPem, { mode: 0o600 });
  return ca;
}

/** The file name (before .crt, .key) of the development TPM vendor CA: it signs the emulated TPMs' EK certificates. */
export const DEVELOPMENT_TPM_VENDOR_CA = 'tpm-vendor-ca';

/**
 * The development TPM vendor CA in `dir` (`tpm-vendor-ca.crt`, `.key`), made if it is not there. `rampart up` makes it
 * beside its development PKI, so the platform it starts already trusts the TPMs a later `fleet run` manufactures. Not
 * part of `loadOrCreateDevelopmentPki`: Compose's secrets, which every service mounts, have no use for a TPM vendor's key.
 */
export async function loadOrCreateTpmVendorCa(dir: string): Promise<CertificateAuthority> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // It signs end-entity EK certificates only.
  return loadOrCreateCa(dir, DEVELOPMENT_TPM_VENDOR_CA, 'Rampart Development TPM Vendor CA', 0);
}

/** The file name (before .crt, .key) of the development CA that only signs the gateway's TLS certificate. */
export const DEVELOPMENT_TLS_CA = 'tls-ca';

export interface DevelopmentPkiOptions {
  /**
   * The platform CA is elsewhere (keys in a token, three tiers from a ceremony): the CA made here signs the
   * gateway's TLS server certificate and nothing else, so it is named for that (tls-ca.crt, tls-ca.key) and no one
   * takes its key for the platform CA's. `platformCa` below is then that TLS CA.
   */
  readonly tlsOnly?: boolean;
}

export async function loadOrCreateDevelopmentPki(dir: string, options: DevelopmentPkiOptions = {}): Promise<DevelopmentPki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const manufacturerCa = await loadOrCreateCa(dir, 'manufacturer-ca', 'Rampart Development Manufacturer CA', 0);
  const platformCa =
    options.tlsOnly === true
      ? await loadOrCreateCa(dir, DEVELOPMENT_TLS_CA, 'Rampart Development TLS CA (gateway server certificates only)', 0)
      : await loadOrCreateCa(dir, 'platform-ca', 'Rampart Development Platform Root CA', 1);
  let certificatePem = await readIfPresent(join(dir, 'gateway.crt'));
  let privateKeyPem = await readIfPresent(join(dir, 'gateway.key'));
  const issuedByCurrentRoot =
    certificatePem !== undefined &&
    new x509.X509Certificate(certificatePem).issuer === platformCa.certificate.subject &&
    (await new x509.X509Certificate(certificatePem).verify({ publicKey: platformCa.certificate.publicKey, signatureOnly: true }));
  if (certificatePem === undefined || privateKeyPem === undefined || !issuedByCurrentRoot) {
    const issued = await platformCa.issueServerCertificate('rampart-gateway', ['localhost', 'rampart-gateway'], ['127.0.0.1', '::1']);
    certificatePem = issued.certificatePem;
    privateKeyPem = issued.privateKeyPem;
    await writeFile(join(dir, 'gateway.crt'), certificatePem, { mode: 0o644 });
    await writeFile(join(dir, 'gateway.key'), privateKeyPem, { mode: 0o600 });
  }
  return { manufacturerCa, platformCa, gatewayServer: { certificatePem, privateKeyPem } };
}
