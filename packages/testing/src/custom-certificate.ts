// @peculiar/x509 reads decorator metadata at import time.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { CertificateAuthority } from '@rampart/trust';

x509.cryptoProvider.set(globalThis.crypto);

export interface CustomCertificateRequest {
  readonly commonName: string;
  /** The subject's public key, DER SubjectPublicKeyInfo. */
  readonly subjectPublicKeySpki: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Extended key usage OIDs; clientAuth if not given. */
  readonly extendedKeyUsages?: readonly string[];
  readonly sanUris?: readonly string[];
}

/**
 * A certificate a well-behaved Rampart CA would never issue — expired, for
 * the wrong purpose, naming the wrong tenant — signed by a real CA's key, so
 * tests can show each one is refused. Only for tests: it takes the CA's
 * exported key.
 */
export async function issueCustomCertificate(ca: CertificateAuthority, request: CustomCertificateRequest): Promise<string> {
  const { privateKeyPem } = await ca.export();
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const signingKey = await globalThis.crypto.subtle.importKey('pkcs8', x509.PemConverter.decodeFirst(privateKeyPem), algorithm, false, [
    'sign',
  ]);
  const publicKey = await globalThis.crypto.subtle.importKey('spki', Buffer.from(request.subjectPublicKeySpki), algorithm, true, [
    'verify',
  ]);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: `01${randomBytes(15).toString('hex')}`,
    subject: `CN=${request.commonName}`,
    issuer: ca.certificate.subject,
    notBefore: request.notBefore,
    notAfter: request.notAfter,
    publicKey,
    signingKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([...(request.extendedKeyUsages ?? [x509.ExtendedKeyUsage.clientAuth])]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate.publicKey),
      ...(request.sanUris === undefined
        ? []
        : [new x509.SubjectAlternativeNameExtension(request.sanUris.map((value) => ({ type: 'url' as const, value })))]),
    ],
  });
  return certificate.toString('pem');
}
