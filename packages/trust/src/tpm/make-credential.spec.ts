import { constants, generateKeyPairSync, privateDecrypt, diffieHellman, createPublicKey, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { kdfa, kdfe, makeCredential, wrapCredential } from './make-credential.js';
import { TpmAlg } from './tpm-constants.js';
import { parseTpm2bPublic, type TpmPublic } from './tpm-public.js';

/**
 * Vectors from tpm2-tools 5.4's tpm2_makecredential in its software mode (no TPM), recorded once:
 *
 *   tpm2_makecredential -T none -u rsa.pub -s secret.bin -n 000b6fd1fdfbefe4d66d777efc0418f9a4fc7cb8212efabcffbdd9fe2d787c5e685f -o rsa.cred
 *   tpm2_makecredential -T none -u ecc.pub -s secret.bin -n 000b6fd1fdfbefe4d66d777efc0418f9a4fc7cb8212efabcffbdd9fe2d787c5e685f -o ecc.cred
 *
 * rsa.pub and ecc.pub are the TPM2B_PUBLICs below (EK template: SHA-256, AES-128-CFB, the default EK policy; an
 * RSA-2048 and a P-256 key made for the occasion); secret.bin the 32 bytes 00..1f. A .cred file is 0xBADCC0DE,
 * version 1, then TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET. The RSA seed was recovered with that key's private
 * half (OAEP SHA-256, label "IDENTITY" and its zero byte); of the ECC exchange, Z (the ECDH secret) was recovered with
 * the EK's private key, so the test derives the seed with KDFe itself. Neither private key is kept.
 */
const VECTORS = {
  name: '000b6fd1fdfbefe4d66d777efc0418f9a4fc7cb8212efabcffbdd9fe2d787c5e685f',
  secret: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
  rsa: {
    ekPublic:
      '013a0001000b000300b20020837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa00060080' +
      '004300100800000000000100ce5995e023cc1bdcaee4785bd4bcc06a694a2b86e60141a59f732495ab9593edc7b09763' +
      'bf2f21a30b89940e83572d7b19373cd324cee4a4002b3eff84d49bf216ffccc6624a65027553e7a7f64e190baef088e4' +
      '68f891b04b1be7a290407ee5433e1dd9be3d212a1595ab09d74b64555c3ba23d86f3bb4a19c982b5ac0f5bc5271feadf' +
      '1cb4551f657a564b99b101a82f89a61c1fff825121fb020c36970168f19cb2f2eb96ea3a08feb80c2a25af00a856dee5' +
      '75a4d9f362e28510b847657168c4791724fcaa8287009ce5195cdccbb747000184ecc05935084b2612e54270b378a7af' +
      '695f9b0a87f0eb738004e00ac84fc0330d1f406d290e3be1ff3de1d1',
    seed: '8261ae76cc5dc3e163cf8fb7561ff1879986e08a8190c364330efd27022be36a',
    idObject:
      '0044002054cec0e48753ec52b3231dc977fb00ba7c26a34a6435841ec83cfc971461578340254a181c9c80d422982f3b' +
      '3a7999dde2226d2104070d0010db56ef825d48c3a0a6',
  },
  ecc: {
    ekPublic:
      '007a0023000b000300b20020837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa00060080' +
      '004300100003001000200ad11e6d152372aed8b104acdcc1cdc5dfc171a10b3e8de43502ee5c4009e05f0020670bf5cb' +
      '0445a0eb804729ec0fa50302906fecc3bf81fbbae1fd416d3abb1848',
    /** Z: ECDH of the EK's private key (not kept) and the ephemeral point in encryptedSecret, x-coordinate. */
    z: 'b4361dcd3211a2091b97b757e74aac022f0293c38237287e633a9a0f86d23079',
    idObject:
      '004400204ec48c71875fe3de5b18482f1c8e67775f7b00efdeaf1437f7f1fbe9bb2bb9b75e7810a56944d508f40ea619' +
      '20852df8578b1e49eb1aabec7462d220be4983fb1694',
    encryptedSecret:
      '004400209c8b1ce7e1161a5d92f1792991be25151f26619c1f6e5fe145e64f01556342370020f7f97c581caedf94b038' +
      '222755f896b76858f25f35cd6d3613be76502207862e',
  },
} as const;

const hex = (value: string) => Buffer.from(value, 'hex');

describe('kdfa', () => {
  // The TPM reference implementation's KDFa self-test (KdfTestData.h, TCG TPM 2.0 library reference code): key,
  // label "KDFSELFTESTLABEL" with its zero byte, contextU, contextV, 160 bits — one expected value per hash.
  const key = hex('271fa08bbdc5060ec3dfa928ff9b73123a12da0c');
  const [u, v] = [hex('ce244f395dca7391'), hex('da504031ddf12e83')];
  it.each([
    [TpmAlg.sha1, '55b5a7184aa07423c47dae766c26a2377d7cf851'],
    [TpmAlg.sha256, 'bb0259e1c8ba607e6a2cd704b69a902e9ade84c4'],
    [TpmAlg.sha384, '1dce70c9113eb2dba47bd9cfc72bf46f45b09312'],
    [TpmAlg.sha512, '8be2c1b85b78569b9fa759f5857c56d684810fd3'],
  ])('matches the reference self-test vector (hash 0x%s)', (alg, expected) => {
    expect(kdfa(alg, key, 'KDFSELFTESTLABEL', u, v, 160).toString('hex')).toBe(expected);
  });
});

describe('makeCredential', () => {
  const name = hex(VECTORS.name);
  const secret = hex(VECTORS.secret);

  it('makes the ID object tpm2_makecredential made for an RSA EK, given its seed', () => {
    const ek = parseTpm2bPublic(hex(VECTORS.rsa.ekPublic));
    expect(makeCredential(ek, name, secret, hex(VECTORS.rsa.seed)).idObject.toString('hex')).toBe(VECTORS.rsa.idObject);
  });

  it("derives with KDFe, from tpm2_makecredential's ECDH secret, the seed of the ID object it made for an ECC EK", () => {
    const ek = parseTpm2bPublic(hex(VECTORS.ecc.ekPublic));
    if (ek.type !== 'ecc') throw new Error('an ECC EK');
    const point = hex(VECTORS.ecc.encryptedSecret).subarray(2); // TPMS_ECC_POINT: x then y, each a TPM2B
    const ephemeralX = point.subarray(2, 2 + point.readUInt16BE(0));
    const seed = kdfe(TpmAlg.sha256, hex(VECTORS.ecc.z), 'IDENTITY', ephemeralX, ek.x, 256);
    expect(wrapCredential(ek, name, secret, seed).toString('hex')).toBe(VECTORS.ecc.idObject);
  });

  it('encrypts an RSA seed only the EK can recover, and an ECC seed only the EK can derive', () => {
    for (const ek of [softwareEk('rsa'), softwareEk('ecc')]) {
      const made = makeCredential(ek.public, name, secret);
      const encrypted = made.encryptedSecret.subarray(2);
      let seed: Buffer;
      if (ek.public.type === 'rsa') {
        seed = privateDecrypt(
          { key: ek.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256', oaepLabel: Buffer.from('IDENTITY\0') },
          encrypted,
        );
      } else {
        const x = encrypted.subarray(2, 2 + encrypted.readUInt16BE(0));
        const y = encrypted.subarray(4 + x.length);
        const ephemeral = createPublicKey({
          key: { kty: 'EC', crv: 'P-256', x: x.toString('base64url'), y: y.toString('base64url') },
          format: 'jwk',
        });
        seed = kdfe(TpmAlg.sha256, diffieHellman({ privateKey: ek.privateKey, publicKey: ephemeral }), 'IDENTITY', x, ek.public.x, 256);
      }
      expect(made.idObject.equals(wrapCredential(ek.public, name, secret, seed))).toBe(true);
    }
  });

  it('refuses an EK whose template cannot carry a credential', () => {
    const ek = parseTpm2bPublic(hex(VECTORS.rsa.ekPublic));
    expect(() => makeCredential({ ...ek, nameAlg: TpmAlg.sha1 }, name, secret)).toThrow(/longer than a digest/);
    expect(() => makeCredential({ ...ek, symmetric: { algorithm: TpmAlg.aes, keyBits: 128, mode: 0x0042 } }, name, secret)).toThrow(
      /AES-CFB/,
    );
  });
});

/** An EK made in software, with the EK template's algorithms (SHA-256, AES-128-CFB). */
function softwareEk(type: 'rsa' | 'ecc'): { public: TpmPublic; privateKey: KeyObject } {
  const template = parseTpm2bPublic(hex(type === 'rsa' ? VECTORS.rsa.ekPublic : VECTORS.ecc.ekPublic));
  if (type === 'rsa') {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const modulus = Buffer.from(publicKey.export({ format: 'jwk' }).n!, 'base64url');
    return { public: { ...(template as Extract<TpmPublic, { type: 'rsa' }>), modulus }, privateKey };
  }
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const jwk = publicKey.export({ format: 'jwk' });
  const point = { x: Buffer.from(jwk.x!, 'base64url'), y: Buffer.from(jwk.y!, 'base64url') };
  return { public: { ...(template as Extract<TpmPublic, { type: 'ecc' }>), ...point }, privateKey };
}
