import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { certificatesInPemBundle } from '@rampart/trust';
import { TpmVendorEndorsement } from './attestation/evidence/tpm-vendor-endorsement.js';

/** The certificates of a PEM bundle a setting names: at least one, each parsing; an error names the setting. */
export async function readCertificateBundle(setting: string, path: string): Promise<string[]> {
  const pems = certificatesInPemBundle(await readFile(path, 'utf8'));
  if (pems.length === 0) throw new Error(`${setting} holds no certificate: ${path}`);
  for (const pem of pems) {
    try {
      new X509Certificate(pem);
    } catch (error) {
      throw new Error(`${setting} holds a certificate that does not parse (${path}): ${String(error)}`, { cause: error });
    }
  }
  return pems;
}

/** TPM_VENDOR_CA_FILE checked at start-up: certificates that parse, all CAs, at least one root (TpmVendorEndorsement). */
export async function tpmVendors(path: string | undefined): Promise<TpmVendorEndorsement | null> {
  if (path === undefined) return null;
  const pems = await readCertificateBundle('TPM_VENDOR_CA_FILE', path);
  try {
    return new TpmVendorEndorsement(pems);
  } catch (error) {
    throw new Error(`TPM_VENDOR_CA_FILE (${path}): ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
