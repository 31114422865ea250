// attestation-throughput (first part): in-process LDevID issuances per second
// on one core through Rampart's issuer, against baselines measured in the same
// run: node-forge (RSA-2048, the design card's library), @peculiar/x509
// (WebCrypto), and raw node:crypto P-256 sign + verify (the physical limit).
// The end-to-end round trip (MQTT → gateway → NATS → attestation → device) is
// not measured yet: the attestation service does not exist yet (issue 3).
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import forge from 'node-forge';
import { CertificateAuthority, OperationalCertificateIssuer } from '@rampart/trust';
import { writeReport } from './lib/report.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);

/** Calls `fn` for about `SECONDS` seconds (await-ing it) and returns calls per second. */
async function rate(fn) {
  const until = performance.now() + SECONDS * 1000;
  let n = 0;
  const started = performance.now();
  while (performance.now() < until) {
    await fn(n++);
  }
  return Math.round(n / ((performance.now() - started) / 1000));
}

export async function run() {
  const root = await CertificateAuthority.create('bench root', 3650, 1);
  const tenantCa = await root.issueIntermediate('bench tenant', 365);
  const issuer = new OperationalCertificateIssuer(
    Buffer.from(tenantCa.certificate.rawData),
    (await tenantCa.export()).privateKeyPem,
    'bench',
  );
  const keys = Array.from({ length: 256 }, () =>
    generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }),
  );
  const ids = Array.from({ length: 16 }, (_, i) => i.toString(16).repeat(64));
  const now = new Date();
  const later = new Date(Date.now() + 86_400_000);

  const rampart = await rate((i) =>
    issuer.issue({ deviceId: ids[i % 16], tenantId: 'bench', subjectPublicKeySpki: keys[i % 256], notBefore: now, notAfter: later }),
  );
  const peculiar = await rate((i) => tenantCa.issueDeviceIdentity(ids[i % 16], keys[i % 256], 1));
  const forgeKeys = forge.pki.rsa.generateKeyPair(2048);
  const nodeForge = await rate(() => {
    const c = forge.pki.createCertificate();
    c.publicKey = forgeKeys.publicKey;
    c.serialNumber = '01';
    c.validity.notBefore = now;
    c.validity.notAfter = later;
    c.setSubject([{ name: 'commonName', value: ids[0] }]);
    c.setIssuer([{ name: 'commonName', value: 'bench tenant' }]);
    c.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'extKeyUsage', clientAuth: true },
    ]);
    c.sign(forgeKeys.privateKey, forge.md.sha256.create());
  });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const data = Buffer.alloc(256, 7);
  const rawSignVerify = await rate(() => verify('sha256', data, publicKey, sign('sha256', data, privateKey)));
  process.stdout.write(
    `  issuances/s/core: rampart ${rampart}, @peculiar/x509 ${peculiar}, node-forge ${nodeForge}; raw P-256 sign+verify ${rawSignVerify}/s\n`,
  );
  return writeReport({
    name: 'attestation-throughput',
    value: rampart,
    unit: 'certificate issuances/s on one core (in process)',
    baseline: 'node-forge (RSA-2048)',
    baseline_value: nodeForge,
    goal: '>= 5000 issuances/s/core in process; >= 2000 attestations/s end to end',
    peculiarX509: peculiar,
    rawP256SignVerify: rawSignVerify,
    ratioToRawSignVerify: Math.round((rampart / rawSignVerify) * 1000) / 1000,
    endToEnd: null,
    endToEndNote: 'not measured: the attestation service and its MQTT round trip are not built yet',
  });
}
