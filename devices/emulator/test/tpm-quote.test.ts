import { createHash, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CertificateAuthority,
  TpmFormatError,
  checkAttestationKey,
  makeCredential,
  objectName,
  parseQuote,
  parseTpm2bPublic,
  publicKeyOf,
  replayEventLog,
  specIdEvent,
  spkiOf,
  stageEvent,
  verifyQuote,
  type TpmPublic,
} from '@rampart/trust';
import { Swtpm } from '../src/tpm/swtpm.js';
import { manufactureTpm, storeTpmVendorCa } from '../src/tpm/tpm-factory.js';
import { ECC_P384_EK, TpmClient } from '../src/tpm/tpm-client.js';
import { QUOTED_PCRS, measureBoot, type MeasuredStage } from '../src/tpm/measured-boot.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const STAGES: MeasuredStage[] = [
  { stage: 'rom', sha256: sha('rom'), version: '1', securityVersion: 0 },
  { stage: 'bootloader', sha256: sha('bootloader'), version: '1.0.0', securityVersion: 1 },
  { stage: 'security-monitor', sha256: sha('sm'), version: '1.0.0', securityVersion: 1 },
  { stage: 'os', sha256: sha('os'), version: '2.1.0', securityVersion: 3 },
  { stage: 'app:sensor', sha256: sha('sensor'), version: '1.2.0', securityVersion: 0 },
];

/** Real data from a real swtpm, driven by tpm2-tools, as a device produces it. */
describe('TPM 2.0 quote verification (node:crypto) against swtpm + tpm2-tools', () => {
  let dir: string;
  let vendor: CertificateAuthority;
  let swtpm: Swtpm;
  let tpm: TpmClient;
  let other: TpmClient;
  let ekPublic: TpmPublic;
  let akPublicBytes: Buffer;
  let log: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-tpm-'));
    vendor = await CertificateAuthority.create('Test TPM Vendor CA');
    const stored = await vendor.export();
    await manufactureTpm(dir, await storeTpmVendorCa(join(dir, 'vendor'), stored));
    swtpm = await Swtpm.start(dir);
    tpm = await TpmClient.open(swtpm, dir);
    other = await TpmClient.open(swtpm, dir);
    ekPublic = parseTpm2bPublic(await tpm.ekPublic());
    akPublicBytes = await tpm.createAttestationKey();
    log = await measureBoot(tpm, STAGES);
  });

  afterAll(async () => {
    await tpm?.close();
    await other?.close();
    await swtpm?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('reads the EK certificate the vendor CA signed, for the EK the TPM holds', async () => {
    const certificate = new X509Certificate(await tpm.ekCertificate());
    expect(certificate.verify(new X509Certificate(vendor.certificatePem).publicKey)).toBe(true);
    expect(spkiOf(certificate.publicKey).equals(spkiOf(publicKeyOf(ekPublic)))).toBe(true);
    expect(ekPublic.type).toBe('rsa');
  });

  it("computes the AK's Name exactly as the TPM does, and accepts its attributes", async () => {
    const ak = checkAttestationKey(akPublicBytes);
    if ('fault' in ak) throw new Error(ak.detail);
    const toolName = await readFile(join((tpm as unknown as { work: string }).work, 'ak.name'));
    expect(objectName(ak).equals(toolName)).toBe(true);
  });

  it('makes a credential that only this TPM, with this AK loaded, activates', async () => {
    const ak = parseTpm2bPublic(akPublicBytes);
    const secret = Buffer.from('a 32-byte credential for this AK');
    const made = makeCredential(ekPublic, objectName(ak), secret);
    expect((await tpm.activateCredential(made.idObject, made.encryptedSecret)).equals(secret)).toBe(true);
    // Bound to another AK's Name: the TPM's integrity check (Part 1 §24.5) refuses it.
    const otherAk = parseTpm2bPublic(await other.createAttestationKey());
    const elsewhere = makeCredential(ekPublic, objectName(otherAk), secret);
    await expect(tpm.activateCredential(elsewhere.idObject, elsewhere.encryptedSecret)).rejects.toThrow();
  });

  it('makes a credential to the ECC EK (P-384, ECDH + KDFe) that the TPM activates', async () => {
    const eccEk = parseTpm2bPublic(await tpm.ekPublic(ECC_P384_EK.handle));
    expect(eccEk.type).toBe('ecc');
    const ak = parseTpm2bPublic(akPublicBytes);
    const secret = Buffer.from('a credential wrapped with ECDH..');
    const made = makeCredential(eccEk, objectName(ak), secret);
    const activated = await tpm.activateCredential(made.idObject, made.encryptedSecret, ECC_P384_EK);
    expect(activated.equals(secret)).toBe(true);
  });

  it('verifies a quote over the replayed event log, qualified by the nonce', async () => {
    const nonce = Buffer.alloc(32, 7);
    const { quote, signature } = await tpm.quote(QUOTED_PCRS, nonce);
    const verified = verifyQuote({ akPublic: akPublicBytes, quote, signature, eventLog: log }, nonce);
    if ('fault' in verified) throw new Error(verified.detail);
    expect(verified.stages.map((s) => [s.stage, s.sha256, s.version, s.securityVersion])).toEqual(
      STAGES.map((s) => [s.stage, s.sha256, s.version, s.securityVersion]),
    );
  });

  it('verifies a quote by an RSA AK (RSASSA) as well', async () => {
    const rsaAk = await other.createAttestationKey('rsa');
    const parsed = parseTpm2bPublic(rsaAk);
    expect(parsed.type).toBe('rsa');
    const nonce = Buffer.alloc(32, 3);
    const { quote, signature } = await other.quote(QUOTED_PCRS, nonce);
    const verified = verifyQuote({ akPublic: rsaAk, quote, signature, eventLog: log }, nonce);
    if ('fault' in verified) throw new Error(verified.detail);
    const changed = Buffer.from(signature);
    changed[changed.length - 1]! ^= 1;
    expect(verifyQuote({ akPublic: rsaAk, quote, signature: changed, eventLog: log }, nonce)).toMatchObject({ fault: 'signature-invalid' });
  });

  describe('refuses hostile input', () => {
    let quote: Buffer;
    let signature: Buffer;
    const nonce = Buffer.alloc(32, 9);
    const input = () => ({ akPublic: akPublicBytes, quote, signature, eventLog: log });

    beforeAll(async () => {
      ({ quote, signature } = await tpm.quote(QUOTED_PCRS, nonce));
    });

    it('a truncated quote, AK public or event log', () => {
      for (let length = 0; length < quote.length; length += 7) {
        expect(verifyQuote({ ...input(), quote: quote.subarray(0, length) }, nonce)).toMatchObject({ fault: 'quote-malformed' });
      }
      expect(verifyQuote({ ...input(), akPublic: akPublicBytes.subarray(0, 40) }, nonce)).toMatchObject({ fault: 'ak-malformed' });
      expect(verifyQuote({ ...input(), eventLog: log.subarray(0, log.length - 3) }, nonce)).toMatchObject({ fault: 'event-log-invalid' });
      expect(() => replayEventLog(log.subarray(0, 50))).toThrow(TpmFormatError);
    });

    it('trailing bytes after a quote', () => {
      expect(verifyQuote({ ...input(), quote: Buffer.concat([quote, Buffer.from([0])]) }, nonce)).toMatchObject({
        fault: 'quote-malformed',
      });
    });

    it('a quote without TPM_GENERATED_VALUE, or of another type', () => {
      const magic = Buffer.from(quote);
      magic[0] = 0x00;
      expect(verifyQuote({ ...input(), quote: magic }, nonce)).toMatchObject({ fault: 'quote-malformed' });
      const certify = Buffer.from(quote);
      certify.writeUInt16BE(0x8017, 4); // TPM_ST_ATTEST_CERTIFY
      expect(() => parseQuote(certify)).toThrow(/TPM_ST_ATTEST_QUOTE/);
    });

    it('a quote for another nonce (a replayed quote)', () => {
      expect(verifyQuote(input(), Buffer.alloc(32, 8))).toMatchObject({ fault: 'extra-data-mismatch' });
    });

    it('a quote changed after signing', () => {
      const changed = Buffer.from(quote);
      changed[changed.length - 1]! ^= 1;
      expect(verifyQuote({ ...input(), quote: changed }, nonce)).toMatchObject({ fault: 'signature-invalid' });
    });

    it("another AK's signature", async () => {
      const otherAk = await other.createAttestationKey();
      const byOther = await other.quote(QUOTED_PCRS, nonce);
      expect(verifyQuote({ ...input(), signature: byOther.signature }, nonce)).toMatchObject({ fault: 'signature-invalid' });
      // …and the other AK's own quote verifies only with its own public key.
      expect('fault' in verifyQuote({ ...input(), akPublic: otherAk, ...byOther }, nonce)).toBe(false);
    });

    it('an AK without restricted, fixedTPM or sign, or with decrypt', () => {
      const attributesAt = 2 + 4; // TPM2B size, type, nameAlg
      for (const [bit, set, name] of [
        [1 << 16, false, 'restricted'],
        [1 << 1, false, 'fixedTPM'],
        [1 << 18, false, 'sign'],
        [1 << 17, true, 'decrypt'],
      ] as const) {
        const changed = Buffer.from(akPublicBytes);
        const attributes = changed.readUInt32BE(attributesAt);
        changed.writeUInt32BE((set ? attributes | bit : attributes & ~bit) >>> 0, attributesAt);
        expect(verifyQuote({ ...input(), akPublic: changed }, nonce)).toMatchObject({
          fault: 'ak-attributes',
          detail: expect.stringContaining(name),
        });
      }
    });

    it('an event log that does not replay to the quoted PCRs', () => {
      // The OS event names another measurement than its digest covers.
      const tampered = Buffer.from(log);
      const at = tampered.indexOf(Buffer.from(STAGES[3]!.sha256, 'hex'));
      tampered[at]! ^= 0xff;
      expect(verifyQuote({ ...input(), eventLog: tampered }, nonce)).toMatchObject({ fault: 'event-log-invalid' });
      // A well-formed log claiming a higher OS security version than the boot measured.
      const raised = Buffer.concat([
        specIdEvent(),
        ...STAGES.map((stage) => stageEvent(stage.stage === 'os' ? { ...stage, securityVersion: 9 } : stage).event),
      ]);
      expect(verifyQuote({ ...input(), eventLog: raised }, nonce)).toMatchObject({ fault: 'pcr-digest-mismatch' });
      // A stage left out of the log.
      const withoutApps = log.subarray(0, log.lastIndexOf(Buffer.from([9, 0, 0, 0, 6, 0, 0, 0])));
      expect(verifyQuote({ ...input(), eventLog: withoutApps }, nonce)).toMatchObject({ fault: 'pcr-digest-mismatch' });
    });

    it('a SHA-1 AK (name or signing hash)', () => {
      const sha1Name = Buffer.from(akPublicBytes);
      sha1Name.writeUInt16BE(0x0004, 4); // nameAlg
      expect(verifyQuote({ ...input(), akPublic: sha1Name }, nonce)).toMatchObject({
        fault: 'ak-attributes',
        detail: expect.stringContaining('SHA-1'),
      });
    });

    it('any one byte changed, or any truncation, of any part: a fault, never an exception; a pass only for an AK attribute that bears on no signature (under another Name) or the log header’s platform class or errata', () => {
      const parts = { akPublic: akPublicBytes, quote, signature, eventLog: log } as const;
      const akName = objectName(parseTpm2bPublic(akPublicBytes));
      for (const [name, bytes] of Object.entries(parts)) {
        for (let at = 0; at < bytes.length; at += 1) {
          const changed = Buffer.from(bytes);
          changed[at]! ^= 1 << (at % 8);
          const verdict = verifyQuote({ ...input(), [name]: changed }, nonce);
          if (!('fault' in verdict)) {
            // stClear, userWithAuth, adminWithPolicy, noDA, … (TPMA_OBJECT, bytes 6–9 of the TPM2B_PUBLIC): the
            // key and its signatures are the same, but its Name is not, so no credential made for it activates.
            // The Spec ID header's platformClass (byte 48: client 0 or server 1) and specErrata (byte 54) are free.
            if (name === 'eventLog') expect([48, 54], `${name} byte ${at} passed`).toContain(at);
            else {
              expect(name === 'akPublic' && at >= 6 && at <= 9, `${name} byte ${at} passed`).toBe(true);
              expect(objectName(verdict.ak).equals(akName)).toBe(false);
            }
          }
          expect('fault' in verifyQuote({ ...input(), [name]: bytes.subarray(0, at) }, nonce), `${name} cut at ${at}`).toBe(true);
        }
      }
    });

    it('a quote that leaves out a PCR the log extends', async () => {
      const partial = await tpm.quote([0, 4, 5, 8], nonce);
      expect(verifyQuote({ ...input(), ...partial }, nonce)).toMatchObject({
        fault: 'pcr-digest-mismatch',
        detail: expect.stringContaining('9'),
      });
    });
  });
});
