// @peculiar/x509 reads decorator metadata at import time: reflect-metadata first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CertificateAuthority,
  OperationalCertificateIssuer,
  derToPem,
  deviceIdFromPublicKey,
  deviceIdFromVerifiedCertificate,
} from '../src/index.js';

const run = promisify(execFile);
const HOUR = 3_600_000;

describe(OperationalCertificateIssuer.name, () => {
  let dir: string;
  let root: CertificateAuthority;
  let tenantCa: CertificateAuthority;
  let issuer: OperationalCertificateIssuer;
  let issuerKeyPem: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-ldevid-'));
    root = await CertificateAuthority.create('Test Platform Root', 3650, 1);
    tenantCa = await root.issueIntermediate('Tenant acme CA', 365);
    const stored = await tenantCa.export();
    issuerKeyPem = stored.privateKeyPem;
    issuer = new OperationalCertificateIssuer(Buffer.from(tenantCa.certificate.rawData), stored.privateKeyPem, 'acme');
    await writeFile(join(dir, 'root.pem'), root.certificatePem);
    await writeFile(join(dir, 'tenant.pem'), tenantCa.certificatePem);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function device() {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return { id: deviceIdFromPublicKey(publicKey), spki: publicKey.export({ type: 'spki', format: 'der' }), privateKey };
  }

  it('issues a certificate that openssl accepts for client authentication under -x509_strict', async () => {
    const d = device();
    const now = Date.now();
    const der = issuer.issue({
      deviceId: d.id,
      tenantId: 'acme',
      subjectPublicKeySpki: d.spki,
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 24 * HOUR),
    });
    await writeFile(join(dir, 'leaf.pem'), derToPem(der));
    const { stdout } = await run('openssl', [
      'verify',
      '-x509_strict',
      '-purpose',
      'sslclient',
      '-CAfile',
      join(dir, 'root.pem'),
      '-untrusted',
      join(dir, 'tenant.pem'),
      join(dir, 'leaf.pem'),
    ]);
    expect(stdout.trim()).toMatch(/leaf\.pem: OK$/);
  });

  it('carries the profile: CA:FALSE, digitalSignature (critical), clientAuth only, device and tenant in the SAN, 24 h', () => {
    const d = device();
    const now = Date.now();
    const cert = new X509Certificate(
      issuer.issue({
        deviceId: d.id,
        tenantId: 'acme',
        subjectPublicKeySpki: d.spki,
        notBefore: new Date(now),
        notAfter: new Date(now + 24 * HOUR),
      }),
    );
    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(cert.subjectAltName).toBe(`URI:urn:rampart:device:${d.id}, URI:urn:rampart:tenant:acme`);
    expect(new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime()).toBe(24 * HOUR);
    expect(cert.serialNumber.length).toBeGreaterThanOrEqual(16);
    expect(cert.checkIssued(new X509Certificate(tenantCa.certificatePem))).toBe(true);
    expect(deviceIdFromVerifiedCertificate(cert)).toBe(d.id);
  });

  it('names the CRL distribution point it is given (RFC 5280 §4.2.1.13), and none when given none', () => {
    const url = 'https://attestation.example/v1/tenants/acme/ca-certificates/1/crl';
    const stored = { der: Buffer.from(tenantCa.certificate.rawData) };
    const withCdp = new OperationalCertificateIssuer(stored.der, issuerKeyPem, 'acme', url);
    const d = device();
    const now = Date.now();
    const request = {
      deviceId: d.id,
      tenantId: 'acme',
      subjectPublicKeySpki: d.spki,
      notBefore: new Date(now),
      notAfter: new Date(now + HOUR),
    };
    const cdp = new x509.X509Certificate(new Uint8Array(withCdp.issue(request))).getExtension(x509.CRLDistributionPointsExtension);
    expect(cdp?.critical).toBe(false);
    expect(cdp?.distributionPoints.map((p) => p.distributionPoint?.fullName?.map((n) => n.uniformResourceIdentifier))).toEqual([[url]]);
    expect(new x509.X509Certificate(new Uint8Array(issuer.issue(request))).getExtension(x509.CRLDistributionPointsExtension)).toBeNull();
  });

  it('refuses to be used by openssl for anything but client authentication', async () => {
    const d = device();
    const now = Date.now();
    await writeFile(
      join(dir, 'leaf2.pem'),
      derToPem(
        issuer.issue({
          deviceId: d.id,
          tenantId: 'acme',
          subjectPublicKeySpki: d.spki,
          notBefore: new Date(now),
          notAfter: new Date(now + HOUR),
        }),
      ),
    );
    await expect(
      run('openssl', [
        'verify',
        '-x509_strict',
        '-purpose',
        'sslserver',
        '-CAfile',
        join(dir, 'root.pem'),
        '-untrusted',
        join(dir, 'tenant.pem'),
        join(dir, 'leaf2.pem'),
      ]),
    ).rejects.toThrow(/unsuitable certificate purpose/);
  });

  it('refuses a key that is not an uncompressed P-256 point, a malformed device id, another tenant and an inverted validity', () => {
    const d = device();
    const now = new Date();
    const later = new Date(Date.now() + HOUR);
    const base = { deviceId: d.id, tenantId: 'acme', subjectPublicKeySpki: d.spki, notBefore: now, notAfter: later };
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ type: 'spki', format: 'der' });
    const offCurve = Buffer.from(d.spki);
    offCurve[offCurve.length - 1] = (offCurve[offCurve.length - 1] ?? 0) ^ 0xff;
    expect(() => issuer.issue({ ...base, subjectPublicKeySpki: rsa })).toThrow(/P-256/);
    expect(() => issuer.issue({ ...base, subjectPublicKeySpki: p384 })).toThrow(/P-256/);
    expect(() => issuer.issue({ ...base, subjectPublicKeySpki: offCurve })).toThrow();
    expect(() => issuer.issue({ ...base, deviceId: 'Q'.repeat(64) })).toThrow(/device id/);
    expect(() => issuer.issue({ ...base, tenantId: 'other' })).toThrow(/tenant acme/);
    expect(() => issuer.issue({ ...base, notBefore: later, notAfter: now })).toThrow(/notAfter/);
    expect(() => issuer.issue({ ...base, notAfter: new Date(Date.UTC(2051, 0, 1)) })).toThrow(/2049/);
  });

  it('gives every certificate its own serial', () => {
    const d = device();
    const serials = new Set(
      Array.from(
        { length: 200 },
        () =>
          new X509Certificate(
            issuer.issue({
              deviceId: d.id,
              tenantId: 'acme',
              subjectPublicKeySpki: d.spki,
              notBefore: new Date(),
              notAfter: new Date(Date.now() + HOUR),
            }),
          ).serialNumber,
      ),
    );
    expect(serials.size).toBe(200);
  });

  it('reports the serial it wrote, as a certificate parser reads it', () => {
    const d = device();
    const { der, serial } = issuer.issueWithSerial({
      deviceId: d.id,
      tenantId: 'acme',
      subjectPublicKeySpki: d.spki,
      notBefore: new Date(),
      notAfter: new Date(Date.now() + HOUR),
    });
    expect(serial).toBe(new X509Certificate(der).serialNumber.toLowerCase());
  });

  it('signs through a key provider on its async path: same profile, the signature made by the signer it was given', async () => {
    const d = device();
    const signed: Buffer[] = [];
    const tenantKey = createPrivateKey(issuerKeyPem);
    const viaProvider = new OperationalCertificateIssuer(
      Buffer.from(tenantCa.certificate.rawData),
      {
        signer: {
          sign: (_key, data) => {
            signed.push(Buffer.from(data));
            return Promise.resolve(sign('sha256', data, tenantKey));
          },
        },
        key: { label: 'rampart/acme/ca-test', algorithm: 'ecdsa-p256' },
      },
      'acme',
    );
    const request = {
      deviceId: d.id,
      tenantId: 'acme',
      subjectPublicKeySpki: d.spki,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + HOUR),
    };
    expect(() => viaProvider.issueWithSerial(request)).toThrow(/signs through a key provider/);
    const { der, serial } = await viaProvider.issueWithSerialAsync(request);
    expect(signed).toHaveLength(1);
    const certificate = new X509Certificate(der);
    expect(certificate.serialNumber.toLowerCase()).toBe(serial);
    expect(certificate.verify(new X509Certificate(tenantCa.certificatePem).publicKey)).toBe(true);
    await writeFile(join(dir, 'async-leaf.pem'), derToPem(der));
    const { stdout } = await run('openssl', [
      'verify',
      '-x509_strict',
      '-purpose',
      'sslclient',
      '-CAfile',
      join(dir, 'root.pem'),
      '-untrusted',
      join(dir, 'tenant.pem'),
      join(dir, 'async-leaf.pem'),
    ]);
    expect(stdout).toMatch(/OK/);
  });

  it('refuses a provider key that is not P-256, since the certificate names ecdsa-with-SHA256', () => {
    expect(
      () =>
        new OperationalCertificateIssuer(
          Buffer.from(tenantCa.certificate.rawData),
          { signer: { sign: () => Promise.reject(new Error('never')) }, key: { label: 'rampart/acme/ca-ed', algorithm: 'ed25519' } },
          'acme',
        ),
    ).toThrow(/ECDSA P-256/);
  });
});
