import { signSubordinateCa, type SigningCa } from './ca-certificates.js';
import { checkIssuingCsr } from './csr-policy.js';
import { ISSUING_CA_PATH_LENGTH } from './offline-root.js';

/** Five years: the issuing CA is replaced by a ceremony well before the root is. */
export const DEFAULT_ISSUING_CA_VALIDITY_DAYS = 1825;

export interface IssuingCaRequest {
  readonly root: SigningCa;
  /** The online side's request (`createIssuingCsr`), PEM. */
  readonly csrPem: string;
  readonly validityDays?: number;
  /** Where the root's CRL is published, put in the certificate so relying parties know where to check it (RFC 5280 §4.2.1.13). */
  readonly crlDistributionPoint?: string;
  readonly now?: Date;
}

/**
 * The OFFLINE side: checks the request (`checkIssuingCsr`: signature, key type,
 * nothing asked beyond what is granted) and issues the platform issuing CA
 * under the root: pathLen 1, keyCertSign + cRLSign, SKI, AKI = the root's SKI,
 * the root's CRL distribution point. The request gives only the subject and
 * the key; every extension is the root's choice. PEM.
 */
export async function signIssuingCa(request: IssuingCaRequest): Promise<string> {
  const checked = checkIssuingCsr(request.csrPem);
  return await signSubordinateCa(request.root, {
    subject: checked.subject,
    subjectPublicKeyInfo: checked.subjectPublicKeyInfo,
    pathLength: ISSUING_CA_PATH_LENGTH,
    validityDays: request.validityDays ?? DEFAULT_ISSUING_CA_VALIDITY_DAYS,
    crlDistributionPoint: request.crlDistributionPoint,
    now: request.now,
  });
}
