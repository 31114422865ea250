import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PSA_LIFECYCLE, PSA_PROFILE, createPsaToken, es256Sign, instanceIdOf } from '../src/index.js';

const run = promisify(execFile);

/**
 * A second, independent CBOR/COSE stack: Debian's Python with python3-cbor2 and python3-cryptography
 * (`scripts/ensure-services.sh` installs them; `/usr/bin/python3` explicitly, not a pyenv shim). It takes the
 * token apart as RFC 9052 §4.2 says, rebuilds the Sig_structure (§4.4) with its own encoder, verifies ES256 over
 * it, and prints the claims it read.
 */
const VERIFY_IN_PYTHON = String.raw`
import json, sys, cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils
from cryptography.exceptions import InvalidSignature
token = bytes.fromhex(sys.argv[1])
key = serialization.load_pem_public_key(sys.argv[2].encode())
outer = cbor2.loads(token)
assert isinstance(outer, cbor2.CBORTag) and outer.tag == 18, 'not a tagged COSE_Sign1'
protected, unprotected, payload, signature = outer.value
assert cbor2.loads(protected) == {1: -7}, 'not ES256'
tbs = cbor2.dumps(['Signature1', protected, b'', payload])
der = utils.encode_dss_signature(int.from_bytes(signature[:32], 'big'), int.from_bytes(signature[32:], 'big'))
try:
    key.verify(der, tbs, ec.ECDSA(hashes.SHA256()))
    valid = True
except InvalidSignature:
    valid = False
claims = cbor2.loads(payload)
print(json.dumps({
    'valid': valid,
    'profile': claims[265],
    'nonce': claims[10].hex(),
    'ueid': claims[256].hex(),
    'clientId': claims[2394],
    'lifecycle': claims[2395],
    'components': [[c.get(1), c[2].hex(), c.get(4)] for c in claims[2399]],
    'securityVersions': claims.get(-70001),
}))
`;

async function python(token: Uint8Array, publicKeyPem: string): Promise<Record<string, unknown>> {
  const { stdout } = await run('/usr/bin/python3', ['-c', VERIFY_IN_PYTHON, Buffer.from(token).toString('hex'), publicKeyPem]);
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('PSA tokens read by an independent stack (Python cbor2 + cryptography)', () => {
  const device = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeyPem = device.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const nonce = Buffer.alloc(32, 0x5a);
  const token = createPsaToken(
    {
      nonce,
      instanceId: instanceIdOf(device.publicKey),
      implementationId: Buffer.alloc(32, 0x11),
      clientId: -1,
      securityLifecycle: PSA_LIFECYCLE.secured,
      bootSeed: Buffer.alloc(32, 0x22),
      softwareComponents: [
        { measurementType: 'bootloader', measurementValue: Buffer.alloc(32, 0x33), signerId: Buffer.alloc(32, 0x44) },
        { measurementType: 'os', measurementValue: Buffer.alloc(32, 0x55), version: '24.1', signerId: Buffer.alloc(32, 0x44) },
      ],
      securityVersions: { bootloader: 3, os: 5 },
    },
    (tbs) => es256Sign(tbs, device.privateKey),
  );

  it('decodes the token and verifies its signature', async () => {
    expect(await python(token, publicKeyPem)).toEqual({
      valid: true,
      profile: PSA_PROFILE,
      nonce: nonce.toString('hex'),
      ueid: Buffer.from(instanceIdOf(device.publicKey)).toString('hex'),
      clientId: -1,
      lifecycle: 0x3000,
      components: [
        ['bootloader', '33'.repeat(32), null],
        ['os', '55'.repeat(32), '24.1'],
      ],
      securityVersions: { bootloader: 3, os: 5 },
    });
  });

  it('finds the signature invalid once the payload is changed', async () => {
    const changed = Buffer.from(token);
    const at = changed.indexOf(Buffer.alloc(32, 0x55));
    changed[at] = 0x56;
    expect(await python(changed, publicKeyPem)).toMatchObject({ valid: false });
  });
});
