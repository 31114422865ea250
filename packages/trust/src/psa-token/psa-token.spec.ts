import { createPublicKey, generateKeyPairSync, sign as derSign } from 'node:crypto';
import { Tag } from 'cbor2';
import { describe, expect, it } from 'vitest';
import { COSE_MAC0_TAG } from './cose-mac0.js';
import { COSE_ALG, COSE_HEADER, es256Sign, sigStructure, signSign1, verifySign1, openCoseMessage } from './cose-sign1.js';
import { MAX_DETAIL_CHARS } from './refusal-detail.js';
import { PSA_CLAIM, PSA_LIFECYCLE, encodeClaims, instanceIdOf, type PsaClaims } from './psa-claims.js';
import { createPsaToken, verifyPsaMacToken, verifyPsaToken } from './psa-token.js';
import { encodeCbor } from './strict-cbor.js';

/*
 * Test vectors: RFC 9783 (Arm's Platform Security Architecture (PSA) Attestation Token, June 2025), Appendix A,
 * "Examples": A.1 the COSE_Sign1 token signed with the P-256 IAK given there as a JWK ("tfm-es-iak"), and A.2 the
 * COSE_Mac0 token with the HMAC-SHA256 key given there ("tfm-hs-iak"). Copied byte for byte from the RFC's
 * appendix (the draft's source tree carries the same files as cddl/example/psa-sign1.hex, psa-mac0.hex,
 * tfm-es-iak.json and tfm-hs-iak.json).
 */
const RFC9783_SIGN1_HEX = `
d28443a10126a058faa81901005821010202020202020202020202020202
02020202020202020202020202020202020219095c582000000000000000
000000000000000000000000000000000000000000000000000a58200101
010101010101010101010101010101010101010101010101010101010101
19095a1a7fffffff19095b19300019010978217461673a70736163657274
69666965642e6f72672c323032333a7073612374666d19095d4800000000
0000000019095f81a2055820040404040404040404040404040404040404
040404040404040404040404040402582003030303030303030303030303
0303030303030303030303030303030303030358402f4c8152ed1691833e
ebb6a182d2120e3d19220df85b9ac51109113a423fa024205ceda0815968
548de4fbb6dc94b88c916f0d266e64cea24183a84f977de475`;
const RFC9783_IAK_JWK = {
  kty: 'EC',
  crv: 'P-256',
  x: 'Tl4iCZ47zrRbRG0TVf0dw7VFlHtv18HInYhnmMNybo8',
  y: 'gNcLhAslaqw0pi7eEEM2TwRAlfADR0uR4Bggkq-xPy4',
} as const;
const RFC9783_MAC0_HEX = `
d18443a10105a0590117a9190100582101c557bd4fadc83f756fca2cd5ea
2dcc8b82159bb4e7453d6a744d4eecd6d0ac6019095c5820000000000000
00000000000000000000000000000000000000000000000000000a582001
010101010101010101010101010101010101010101010101010101010101
0119095a1a7fffffff19095e73313233343536373839303132332d313233
343519095b19300019010978217461673a7073616365727469666965642e
6f72672c323032333a7073612374666d19095d4800000000000000001909
5f81a3055820040404040404040404040404040404040404040404040404
040404040404040402582003030303030303030303030303030303030303
03030303030303030303030303016450526f545820b36cc7d7d2ed8980ac
81c3460cfe2eddc45232ad819339a98e63bde32b9c2534`;
// RFC 8792 line wrapping of the RFC's JWK undone.
const RFC9783_HMAC_KEY = Buffer.from('3gOLNKyhJXaMXjNXq40Gs2e5qw1-i-Ek7cpH_gM6W7epPTB_8imqNv8kbBKVlk-s9xq3qm7E_WECt7OYMlWtkg', 'base64url');

const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');
const rfcSign1 = hex(RFC9783_SIGN1_HEX);
const rfcMac0 = hex(RFC9783_MAC0_HEX);
const rfcKey = createPublicKey({ key: RFC9783_IAK_JWK, format: 'jwk' });

/** Every byte position, each changed three ways (low bit, high bit, all bits): 3 × length mutations. */
function* oneByteMutations(token: Uint8Array): Generator<[number, number, Buffer]> {
  for (let i = 0; i < token.length; i++) {
    for (const flip of [0x01, 0x80, 0xff]) {
      const mutated = Buffer.from(token);
      mutated[i]! ^= flip;
      yield [i, flip, mutated];
    }
  }
}

const device = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const sign = (tbs: Uint8Array) => es256Sign(tbs, device.privateKey);
const goodClaims = (): PsaClaims => ({
  nonce: Buffer.alloc(32, 7),
  instanceId: instanceIdOf(device.publicKey),
  implementationId: Buffer.alloc(32, 9),
  clientId: -1,
  securityLifecycle: PSA_LIFECYCLE.secured,
  bootSeed: Buffer.alloc(32, 3),
  softwareComponents: [
    { measurementType: 'bootloader', measurementValue: Buffer.alloc(32, 1), version: '1.0.0', signerId: Buffer.alloc(32, 2) },
    { measurementType: 'os', measurementValue: Buffer.alloc(32, 4), version: '2.1.0', signerId: Buffer.alloc(32, 2) },
  ],
  securityVersions: { bootloader: 1, os: 3 },
});

/** A token over an arbitrary claims map (for claims `createPsaToken` would never write). */
function tokenOver(claims: Map<number, unknown>, protectedHeader = new Map<number, unknown>([[COSE_HEADER.alg, COSE_ALG.ES256]])) {
  const payload = encodeCbor(claims);
  const protectedBytes = encodeCbor(protectedHeader);
  return encodeCbor(new Tag(18, [protectedBytes, new Map(), payload, sign(sigStructure(protectedBytes, payload))]));
}

describe(verifyPsaToken.name, () => {
  describe('RFC 9783 Appendix A vectors', () => {
    it('verifies the COSE_Sign1 example as well-formed and signed by its published IAK', () => {
      const check = verifyPsaToken(rfcSign1, rfcKey);
      expect(check).toMatchObject({ ok: true, claims: { clientId: 0x7fffffff, securityLifecycle: 0x3000 } });
      if (check.ok) expect(check.claims.softwareComponents).toHaveLength(1);
    });

    it('verifies the COSE_Mac0 example with its published HMAC key', () => {
      expect(verifyPsaMacToken(rfcMac0, RFC9783_HMAC_KEY)).toMatchObject({
        ok: true,
        claims: { certificationReference: '1234567890123-12345', softwareComponents: [{ measurementType: 'PRoT' }] },
      });
    });

    it('refuses the COSE_Sign1 example after any one-byte change, at every position', () => {
      let tried = 0;
      for (const [position, flip, mutated] of oneByteMutations(rfcSign1)) {
        const check = verifyPsaToken(mutated, rfcKey);
        if (check.ok) throw new Error(`accepted with byte ${position} ^ 0x${flip.toString(16)}`);
        tried++;
      }
      expect(tried).toBe(rfcSign1.length * 3);
    });

    it('refuses the COSE_Mac0 example after any one-byte change, at every position', () => {
      for (const [position, flip, mutated] of oneByteMutations(rfcMac0)) {
        if (verifyPsaMacToken(mutated, RFC9783_HMAC_KEY).ok) throw new Error(`accepted with byte ${position} ^ 0x${flip.toString(16)}`);
      }
    });

    it('refuses the example with a key other than the one that signed it', () => {
      expect(verifyPsaToken(rfcSign1, device.publicKey)).toMatchObject({ ok: false, fault: 'signature-invalid' });
    });
  });

  it('round-trips the claims a device signs', () => {
    const check = verifyPsaToken(createPsaToken(goodClaims(), sign), device.publicKey);
    expect(check.ok).toBe(true);
    if (check.ok) {
      expect(check.claims.securityVersions).toEqual({ bootloader: 1, os: 3 });
      expect(check.claims.softwareComponents.map((c) => c.version)).toEqual(['1.0.0', '2.1.0']);
    }
  });

  describe('CBOR and COSE form', () => {
    const good = () => encodeClaims(goodClaims());

    it('refuses duplicate map keys (RFC 8949 §5.6), inside the signed payload too', () => {
      // A claims map whose nonce key appears twice: spliced by hand, as no encoder writes one.
      const claims = good();
      const payload = Buffer.from(encodeCbor(claims));
      const nonceEntry = Buffer.concat([Buffer.from(encodeCbor(PSA_CLAIM.nonce)), Buffer.from(encodeCbor(new Uint8Array(32).fill(8)))]);
      const duplicated = Buffer.concat([Buffer.from([payload[0]! + 1]), payload.subarray(1), nonceEntry]);
      const protectedBytes = encodeCbor(new Map([[COSE_HEADER.alg, COSE_ALG.ES256]]));
      const token = encodeCbor(
        new Tag(18, [protectedBytes, new Map(), new Uint8Array(duplicated), sign(sigStructure(protectedBytes, duplicated))]),
      );
      expect(verifyPsaToken(token, device.publicKey)).toMatchObject({
        ok: false,
        fault: 'token-malformed',
        detail: expect.stringContaining('Duplicate'),
      });
    });

    it('refuses indefinite-length items (RFC 8949 §3.2.2)', () => {
      const token = Buffer.from(createPsaToken(goodClaims(), sign));
      // d2 84 → d2 9f … ff: the same four elements in an indefinite-length array.
      const indefinite = Buffer.concat([Buffer.from([0xd2, 0x9f]), token.subarray(2), Buffer.from([0xff])]);
      expect(verifyPsaToken(indefinite, device.publicKey)).toMatchObject({
        ok: false,
        fault: 'token-malformed',
        detail: expect.stringContaining('Streaming'),
      });
    });

    it('refuses trailing bytes and a fifth array element', () => {
      const token = Buffer.from(createPsaToken(goodClaims(), sign));
      expect(verifyPsaToken(Buffer.concat([token, Buffer.from([0x00])]), device.publicKey)).toMatchObject({
        ok: false,
        fault: 'token-malformed',
      });
      const five = Buffer.concat([Buffer.from([0xd2, 0x85]), token.subarray(2), Buffer.from([0x00])]);
      expect(verifyPsaToken(five, device.publicKey)).toMatchObject({ ok: false, fault: 'token-malformed' });
    });

    it('refuses a detached (nil) payload and an untagged or other-tagged structure', () => {
      const protectedBytes = encodeCbor(new Map([[COSE_HEADER.alg, COSE_ALG.ES256]]));
      const payload = encodeCbor(good());
      const signature = sign(sigStructure(protectedBytes, payload));
      expect(verifyPsaToken(encodeCbor(new Tag(18, [protectedBytes, new Map(), null, signature])), device.publicKey)).toMatchObject({
        ok: false,
        fault: 'token-malformed',
      });
      expect(verifyPsaToken(encodeCbor([protectedBytes, new Map(), payload, signature]), device.publicKey)).toMatchObject({
        ok: false,
        fault: 'token-malformed',
      });
    });

    it('refuses every algorithm but ES256, and an unknown critical header', () => {
      for (const alg of [-35, -8, 5, -257]) {
        const token = tokenOver(good(), new Map([[COSE_HEADER.alg, alg]]));
        expect(verifyPsaToken(token, device.publicKey)).toMatchObject({ ok: false, fault: 'algorithm-unsupported' });
      }
      const critical = tokenOver(
        good(),
        new Map<number, unknown>([
          [COSE_HEADER.alg, COSE_ALG.ES256],
          [COSE_HEADER.crit, [99]],
          [99, 1],
        ]),
      );
      expect(verifyPsaToken(critical, device.publicKey)).toMatchObject({ ok: false, fault: 'algorithm-unsupported' });
    });

    describe('header rules (RFC 9052 §3, §3.1)', () => {
      const es256 = (): Array<[number | string, unknown]> => [[COSE_HEADER.alg, COSE_ALG.ES256]];
      /** A Sign1 with these header buckets, correctly signed over them. */
      function withHeaders(protectedEntries: Array<[unknown, unknown]>, unprotected: Map<unknown, unknown>, protectedBytes?: Uint8Array) {
        const payload = encodeCbor(good());
        const bytes = protectedBytes ?? encodeCbor(new Map(protectedEntries));
        return encodeCbor(new Tag(18, [bytes, unprotected, payload, sign(sigStructure(bytes, payload))]));
      }

      it.each([
        [
          'a label in both buckets',
          () => withHeaders([...es256(), [COSE_HEADER.kid, new Uint8Array(4)]], new Map([[COSE_HEADER.kid, new Uint8Array(4)]])),
          'token-malformed',
          'header label 4 is in both buckets',
        ],
        [
          'alg unprotected',
          () => withHeaders([[COSE_HEADER.contentType, 61]], new Map([[COSE_HEADER.alg, COSE_ALG.ES256]])),
          'token-malformed',
          'alg must be protected',
        ],
        [
          'crit unprotected',
          () => withHeaders(es256(), new Map([[COSE_HEADER.crit, [COSE_HEADER.alg]]])),
          'token-malformed',
          'crit must be protected',
        ],
        [
          'an empty crit',
          () => withHeaders([...es256(), [COSE_HEADER.crit, []]], new Map()),
          'token-malformed',
          'crit must be a non-empty array',
        ],
        [
          'an empty protected header (no alg)',
          () => withHeaders([], new Map(), new Uint8Array(0)),
          'token-malformed',
          'the protected header must be a non-empty byte string',
        ],
        [
          'an empty map as protected header',
          () => withHeaders([], new Map()),
          'algorithm-unsupported',
          'no algorithm in the protected header',
        ],
      ] as const)('refuses %s', (_name, token, fault, detail) => {
        expect(verifyPsaToken(token(), device.publicKey)).toMatchObject({ ok: false, fault, detail: expect.stringContaining(detail) });
      });

      it('accepts crit naming only labels it processes', () => {
        const token = withHeaders([...es256(), [COSE_HEADER.crit, [COSE_HEADER.alg]]], new Map());
        expect(verifyPsaToken(token, device.publicKey).ok).toBe(true);
      });

      it('refuses a certified key that is not P-256, before the signature', () => {
        const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
        const ed = generateKeyPairSync('ed25519');
        for (const key of [p384.publicKey, ed.publicKey]) {
          expect(verifyPsaToken(createPsaToken(goodClaims(), sign), key)).toMatchObject({
            ok: false,
            fault: 'algorithm-unsupported',
            detail: 'the verification key is not a P-256 key',
          });
        }
        expect(() => verifySign1(openCoseMessage(createPsaToken(goodClaims(), sign)), p384.publicKey)).toThrow(/P-256/);
      });

      it('refuses a COSE_Mac0 at the Sign1 entry point, even with a valid MAC', () => {
        expect(verifyPsaToken(rfcMac0, rfcKey)).toMatchObject({
          ok: false,
          fault: 'token-malformed',
          detail: `not a tagged COSE structure 18`,
        });
        expect(verifyPsaMacToken(rfcMac0, RFC9783_HMAC_KEY).ok).toBe(true);
        expect(openCoseMessage(rfcMac0, COSE_MAC0_TAG).tag).toBe(COSE_MAC0_TAG);
      });
    });

    it('refuses a DER signature where COSE wants r ‖ s', () => {
      const protectedBytes = encodeCbor(new Map([[COSE_HEADER.alg, COSE_ALG.ES256]]));
      const payload = encodeCbor(good());
      const der = derSign('sha256', sigStructure(protectedBytes, payload), device.privateKey);
      const token = encodeCbor(new Tag(18, [protectedBytes, new Map(), payload, new Uint8Array(der)]));
      expect(verifyPsaToken(token, device.publicKey)).toMatchObject({ ok: false, fault: 'signature-invalid' });
    });
  });

  describe('claims (RFC 9783 §4)', () => {
    const mandatory: Array<[number, string]> = [
      [PSA_CLAIM.profile, 'profile'],
      [PSA_CLAIM.nonce, 'eat_nonce'],
      [PSA_CLAIM.instanceId, 'ueid'],
      [PSA_CLAIM.implementationId, 'psa-implementation-id'],
      [PSA_CLAIM.clientId, 'psa-client-id'],
      [PSA_CLAIM.securityLifecycle, 'psa-security-lifecycle'],
      [PSA_CLAIM.softwareComponents, 'psa-software-components'],
    ];
    it.each(mandatory)('refuses a token without mandatory claim %i (%s)', (key, name) => {
      const claims = encodeClaims(goodClaims());
      claims.delete(key);
      expect(verifyPsaToken(tokenOver(claims), device.publicKey)).toMatchObject({
        ok: false,
        fault: 'claim-invalid',
        detail: `${name}: is mandatory and missing`,
      });
    });

    it.each([
      ['another profile', PSA_CLAIM.profile, 'http://arm.com/psa/2.0.0', 'profile:'],
      ['a 16-byte nonce', PSA_CLAIM.nonce, new Uint8Array(16), 'eat_nonce:'],
      ['a UEID not of type RAND', PSA_CLAIM.instanceId, new Uint8Array(33).fill(2), 'ueid:'],
      ['a 31-byte implementation id', PSA_CLAIM.implementationId, new Uint8Array(31), 'psa-implementation-id:'],
      ['client id 0', PSA_CLAIM.clientId, 0, 'psa-client-id:'],
      ['a lifecycle in no state', PSA_CLAIM.securityLifecycle, 0x7000, 'psa-security-lifecycle:'],
      ['a 4-byte boot seed', PSA_CLAIM.bootSeed, new Uint8Array(4), 'psa-boot-seed:'],
      ['no software components', PSA_CLAIM.softwareComponents, [], 'psa-software-components:'],
      [
        'a component without signer id',
        PSA_CLAIM.softwareComponents,
        [new Map([[2, new Uint8Array(32)]])],
        'psa-software-components[0].signer-id:',
      ],
      ['a lifecycle as text', PSA_CLAIM.securityLifecycle, '0x3000', 'psa-security-lifecycle:'],
      [
        'a NUL in a component version',
        PSA_CLAIM.softwareComponents,
        [
          new Map<number, unknown>([
            [2, new Uint8Array(32)],
            [4, '1.0\u0000'],
            [5, new Uint8Array(32)],
          ]),
        ],
        'psa-software-components[0].version:',
      ],
      ['a security version above 0xffff', PSA_CLAIM.rampartSecurityVersions, new Map([['os', 0x10000]]), 'rampart-security-versions.os:'],
      [
        'a bare EAN-13 certification reference (the legacy form)',
        PSA_CLAIM.certificationReference,
        '1234567890123',
        'psa-certification-reference:',
      ],
      [
        'a certification reference of other digits',
        PSA_CLAIM.certificationReference,
        '123456789012-123456',
        'psa-certification-reference:',
      ],
    ])('refuses %s, naming the claim', (_name, key, value, claim) => {
      const claims = encodeClaims(goodClaims());
      claims.set(key, value);
      expect(verifyPsaToken(tokenOver(claims), device.publicKey)).toMatchObject({
        ok: false,
        fault: 'claim-invalid',
        detail: expect.stringMatching(new RegExp(`^${claim.replace(/[[\].]/g, '\\$&')}`)),
      });
    });

    it('accepts an EAN-13+5 certification reference (the 2023 profile)', () => {
      const claims = encodeClaims(goodClaims());
      claims.set(PSA_CLAIM.certificationReference, '1234567890123-12345');
      expect(verifyPsaToken(tokenOver(claims), device.publicKey)).toMatchObject({
        ok: true,
        claims: { certificationReference: '1234567890123-12345' },
      });
    });

    it('bounds the detail of a refusal that quotes the token', () => {
      const claims = encodeClaims(goodClaims());
      // A duplicate key whose hex the decoder quotes: a 2,000-byte key written twice.
      const payload = Buffer.from(encodeCbor(claims));
      const longKey = Buffer.from(encodeCbor('k'.repeat(2_000)));
      const entry = Buffer.concat([longKey, Buffer.from(encodeCbor(1))]);
      const duplicated = Buffer.concat([Buffer.from([payload[0]! + 2]), payload.subarray(1), entry, entry]);
      const token = signSign1(duplicated, sign);
      const check = verifyPsaToken(token, device.publicKey);
      expect(check).toMatchObject({ ok: false, fault: 'token-malformed' });
      expect(check.ok ? 0 : check.detail.length).toBeLessThanOrEqual(MAX_DETAIL_CHARS);
    });

    it('ignores claims it does not know (RFC 9711 §4)', () => {
      const claims = encodeClaims(goodClaims());
      claims.set(-80_000, 'vendor data');
      expect(verifyPsaToken(tokenOver(claims), device.publicKey).ok).toBe(true);
    });
  });
});
