import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { specIdEvent, stageEvent, type StageEvent } from './event-log.js';
import { verifyQuote } from './quote-verifier.js';
import { TPM_GENERATED_VALUE, TpmAlg, TpmSt } from './tpm-constants.js';
import { verifyTpmSignature } from './tpm-attest.js';
import { objectName, parseTpmtPublic, type TpmPublic } from './tpm-public.js';

const u16 = (v: number) => Buffer.from([v >> 8, v & 0xff]);
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};
const sized = (b: Buffer) => Buffer.concat([u16(b.length), b]);

/** An attestation key made in software: ECC P-256, restricted, ECDSA-SHA256 (what a TPM's AK template gives). */
function softwareAk(): { ak: TpmPublic; akPublic: Buffer; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const jwk = publicKey.export({ format: 'jwk' });
  const attributes = 0x00050072; // fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth, restricted, sign
  const area = Buffer.concat([
    u16(TpmAlg.ecc),
    u16(TpmAlg.sha256),
    u32(attributes),
    sized(Buffer.alloc(0)),
    u16(TpmAlg.null),
    u16(TpmAlg.ecdsa),
    u16(TpmAlg.sha256),
    u16(0x0003),
    u16(TpmAlg.null),
    sized(Buffer.from(jwk.x!, 'base64url')),
    sized(Buffer.from(jwk.y!, 'base64url')),
  ]);
  return { ak: parseTpmtPublic(area), akPublic: sized(area), privateKey };
}

const STAGES: StageEvent[] = [
  { stage: 'rom', sha256: '11'.repeat(32), version: '1', securityVersion: 0 },
  { stage: 'os', sha256: '22'.repeat(32), version: '1.0.0', securityVersion: 1 },
];

/** A log of `STAGES` and the SHA-256 bank it replays to. */
function bootLog(): { log: Buffer; pcrs: Map<number, Buffer> } {
  const pcrs = new Map<number, Buffer>();
  const events = STAGES.map((s) => {
    const { pcr, digest, event } = stageEvent(s);
    pcrs.set(
      pcr,
      createHash('sha256')
        .update(pcrs.get(pcr) ?? Buffer.alloc(32))
        .update(digest)
        .digest(),
    );
    return event;
  });
  return { log: Buffer.concat([specIdEvent(), ...events]), pcrs };
}

/** A TPMS_ATTEST quote over `selected` of the replayed bank, as a TPM makes it. */
function quoteOf(pcrs: Map<number, Buffer>, selected: readonly number[], extraData: Buffer, qualifiedSigner: Buffer): Buffer {
  const bitmap = Buffer.alloc(3);
  for (const pcr of selected) bitmap[pcr >> 3]! |= 1 << (pcr & 7);
  const digest = createHash('sha256');
  for (const pcr of selected) digest.update(pcrs.get(pcr) ?? Buffer.alloc(32));
  return Buffer.concat([
    u32(TPM_GENERATED_VALUE),
    u16(TpmSt.attestQuote),
    sized(qualifiedSigner),
    sized(extraData),
    Buffer.alloc(8 + 4 + 4),
    Buffer.from([1]),
    Buffer.alloc(8),
    u32(1),
    u16(TpmAlg.sha256),
    Buffer.from([3]),
    bitmap,
    sized(digest.digest()),
  ]);
}

/** TPMT_SIGNATURE: ECDSA, its hash, r and s. */
function ecdsaSignature(privateKey: KeyObject, message: Buffer, sigAlg: number = TpmAlg.ecdsa, hashAlg: number = TpmAlg.sha256): Buffer {
  const p1363 = sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return Buffer.concat([u16(sigAlg), u16(hashAlg), sized(p1363.subarray(0, 32)), sized(p1363.subarray(32))]);
}

describe('verifyQuote', () => {
  const nonce = Buffer.alloc(32, 7);
  const { ak, akPublic, privateKey } = softwareAk();
  // The AK's QN as under a primary: what matters to the check is its algorithm and length.
  const qualifiedSigner = Buffer.concat([u16(TpmAlg.sha256), createHash('sha256').update(objectName(ak)).digest()]);
  const { log, pcrs } = bootLog();
  const input = (selected: readonly number[], signer = qualifiedSigner) => {
    const quote = quoteOf(pcrs, selected, nonce, signer);
    return { akPublic, quote, signature: ecdsaSignature(privateKey, quote), eventLog: log };
  };

  it('passes a quote over every stage PCR, the ones no stage extended at zero', () => {
    expect(verifyQuote(input([0, 4, 5, 8, 9]), nonce)).toMatchObject({ stages: STAGES });
  });

  it('refuses a quote that leaves out a stage PCR the log does not extend (PCR 9: the apps)', () => {
    expect(verifyQuote(input([0, 4, 5, 8]), nonce)).toMatchObject({
      fault: 'pcr-digest-mismatch',
      detail: expect.stringContaining('9') as unknown,
    });
  });

  it("refuses a qualifiedSigner that is no Name of the AK's nameAlg", () => {
    const sha384Name = Buffer.concat([u16(TpmAlg.sha384), Buffer.alloc(48, 1)]);
    for (const signer of [sha384Name, qualifiedSigner.subarray(0, 20), Buffer.alloc(0)])
      expect(verifyQuote(input([0, 4, 5, 8, 9], signer), nonce)).toMatchObject({ fault: 'signer-mismatch' });
  });
});

describe('verifyTpmSignature', () => {
  const { ak, privateKey } = softwareAk();
  const message = Buffer.from('a TPM-made structure');

  it("verifies the AK's own scheme and hash, and nothing else", () => {
    expect(verifyTpmSignature(ak, message, ecdsaSignature(privateKey, message))).toBe(true);
    // The same r and s, labelled with another scheme or another hash than the key was made for.
    expect(verifyTpmSignature(ak, message, ecdsaSignature(privateKey, message, TpmAlg.ecschnorr))).toBe(false);
    expect(verifyTpmSignature(ak, message, ecdsaSignature(privateKey, message, TpmAlg.ecdsa, TpmAlg.sha384))).toBe(false);
    expect(verifyTpmSignature(ak, message, ecdsaSignature(privateKey, message, TpmAlg.rsassa))).toBe(false);
  });

  it('refuses truncated, oversized and trailing signatures without throwing', () => {
    const good = ecdsaSignature(privateKey, message);
    for (const bad of [good.subarray(0, 3), good.subarray(0, good.length - 1), Buffer.concat([good, Buffer.from([0])]), Buffer.alloc(0)])
      expect(verifyTpmSignature(ak, message, bad)).toBe(false);
    const oversizedR = Buffer.concat([u16(TpmAlg.ecdsa), u16(TpmAlg.sha256), sized(Buffer.alloc(33, 1)), sized(Buffer.alloc(32, 1))]);
    expect(verifyTpmSignature(ak, message, oversizedR)).toBe(false);
  });
});
