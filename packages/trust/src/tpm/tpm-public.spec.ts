import { describe, expect, it } from 'vitest';
import { TpmAlg } from './tpm-constants.js';
import { TpmFormatError } from './tpm-reader.js';
import { endorsementKeyFaults, parseTpm2bPublic, parseTpmtPublic } from './tpm-public.js';

const u16 = (v: number) => Buffer.from([v >> 8, v & 0xff]);
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};
const sized = (b: Buffer) => Buffer.concat([u16(b.length), b]);
const EK_ATTRIBUTES = 0x000300b2; // fixedTPM, fixedParent, sensitiveDataOrigin, adminWithPolicy, restricted, decrypt
const AES_128_CFB = Buffer.concat([u16(TpmAlg.aes), u16(128), u16(TpmAlg.cfb)]);

/** An RSA TPMT_PUBLIC with the given scheme bytes (algorithm and its details). */
function rsaArea(scheme: Buffer, options: { nameAlg?: number; symmetric?: Buffer; bits?: number } = {}): Buffer {
  const bits = options.bits ?? 2048;
  return Buffer.concat([
    u16(TpmAlg.rsa),
    u16(options.nameAlg ?? TpmAlg.sha256),
    u32(EK_ATTRIBUTES),
    sized(Buffer.alloc(32, 0x83)),
    options.symmetric ?? AES_128_CFB,
    scheme,
    u16(bits),
    u32(0),
    sized(Buffer.alloc(bits / 8, 0xc5)),
  ]);
}

describe('parseTpmtPublic', () => {
  it('reads RSAES without a hash: its details are TPMS_EMPTY', () => {
    const key = parseTpmtPublic(rsaArea(u16(TpmAlg.rsaes)));
    expect(key).toMatchObject({ type: 'rsa', scheme: TpmAlg.rsaes, schemeHash: undefined, keyBits: 2048 });
  });

  it('reads a scheme with a hash, and NULL without one', () => {
    expect(parseTpmtPublic(rsaArea(Buffer.concat([u16(TpmAlg.oaep), u16(TpmAlg.sha256)])))).toMatchObject({ schemeHash: TpmAlg.sha256 });
    expect(parseTpmtPublic(rsaArea(u16(TpmAlg.null)))).toMatchObject({ schemeHash: undefined });
  });

  it('refuses hostile input with a TpmFormatError, never another error', () => {
    const good = rsaArea(u16(TpmAlg.null));
    const modulusSizeAt = good.length - 256 - 2;
    const hostile: Buffer[] = [
      Buffer.alloc(0),
      good.subarray(0, 5), // truncated in the header
      good.subarray(0, good.length - 1), // truncated in the modulus
      Buffer.concat([good, Buffer.from([0])]), // trailing byte
      Buffer.concat([u16(TpmAlg.keyedHash), good.subarray(2)]), // neither RSA nor ECC
      Buffer.concat([good.subarray(0, 2), u16(0x0012), good.subarray(4)]), // nameAlg that is no hash
      Buffer.concat([good.subarray(0, 8), u16(0xffff), good.subarray(10)]), // authPolicy claiming 64 KiB
      Buffer.from(good).fill(0xff, modulusSizeAt, modulusSizeAt + 2), // modulus claiming 64 KiB
      rsaArea(u16(TpmAlg.null), { bits: 1024 }).fill(0x08, 2 + 2 + 4 + 34 + 6 + 2, 2 + 2 + 4 + 34 + 6 + 3), // keyBits ≠ modulus
    ];
    for (const bytes of hostile) expect(() => parseTpmtPublic(bytes), bytes.toString('hex').slice(0, 40)).toThrow(TpmFormatError);
    // A TPM2B_PUBLIC whose size runs past the end.
    expect(() => parseTpm2bPublic(Buffer.concat([u16(good.length + 1), good]))).toThrow(TpmFormatError);
  });
});

describe('endorsementKeyFaults', () => {
  it('accepts the EK template (SHA-256, AES-128-CFB, RSA-2048, restricted decryption)', () => {
    expect(endorsementKeyFaults(parseTpmtPublic(rsaArea(u16(TpmAlg.null))))).toEqual([]);
  });

  it('names what no credential can be made for: SHA-1, a mode other than CFB, no symmetric, a small modulus', () => {
    const cbc = Buffer.concat([u16(TpmAlg.aes), u16(128), u16(0x0042)]);
    expect(endorsementKeyFaults(parseTpmtPublic(rsaArea(u16(TpmAlg.null), { nameAlg: TpmAlg.sha1 })))).toEqual([
      expect.stringContaining('nameAlg'),
    ]);
    expect(endorsementKeyFaults(parseTpmtPublic(rsaArea(u16(TpmAlg.null), { symmetric: cbc })))).toEqual([expect.stringContaining('CFB')]);
    expect(endorsementKeyFaults(parseTpmtPublic(rsaArea(u16(TpmAlg.null), { symmetric: u16(TpmAlg.null) })))).toEqual([
      expect.stringContaining('CFB'),
    ]);
    expect(endorsementKeyFaults(parseTpmtPublic(rsaArea(u16(TpmAlg.null), { bits: 1024 })))).toEqual([expect.stringContaining('1024')]);
  });
});
