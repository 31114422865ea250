import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { promisify } from 'node:util';
import { CertificateAuthority, PSA_PROFILE, instanceIdOf, keyIdOf } from '@rampart/trust';
import { beforeAll, describe, expect, it } from 'vitest';
import { demoFirmware, flashFirmware } from '../src/firmware/firmware.js';
import { manufactureDevice, type ManufacturedDevice } from '../src/factory/manufacture.js';
import { createPsaEvidence, NSPE_CLIENT_ID } from '../src/mcu/attestation-evidence.js';
import { Flash } from '../src/mcu/flash.js';
import { Fuses } from '../src/mcu/fuses.js';
import { ROM_MEASUREMENT, secureBoot } from '../src/mcu/secure-boot.js';
import { MemoryStateStore } from '../src/mcu/state-store.js';

const run = promisify(execFile);

/**
 * A second, independent CBOR/COSE stack: Debian's Python with python3-cbor2 and python3-cryptography
 * (`scripts/ensure-services.sh` installs them; `/usr/bin/python3` explicitly, not a pyenv shim). It takes the
 * token apart as RFC 9052 §4.2 says, rebuilds the Sig_structure (§4.4) with its own encoder, verifies ES256 over
 * it, and prints the claims it read. The token is the emulator's, as a device sends it (`createPsaEvidence`).
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
    'implementationId': claims[2396].hex(),
    'bootSeed': claims[2397].hex(),
    'components': [[c.get(1), c[2].hex(), c.get(4), c[5].hex()] for c in claims[2399]],
    'securityVersions': claims.get(-70001),
}))
`;

async function python(token: Uint8Array, publicKeyPem: string): Promise<Record<string, unknown>> {
  const { stdout } = await run('/usr/bin/python3', ['-c', VERIFY_IN_PYTHON, Buffer.from(token).toString('hex'), publicKeyPem]);
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('PSA tokens read by an independent stack (Python cbor2 + cryptography)', () => {
  const firmware = demoFirmware();
  const nonce = Buffer.alloc(32, 0x5a);
  let made: ManufacturedDevice;
  let publicKeyPem: string;
  let boot: ReturnType<typeof secureBoot>;
  let token: Buffer;

  beforeAll(async () => {
    made = await manufactureDevice(await CertificateAuthority.create('Test manufacturer'));
    publicKeyPem = new X509Certificate(made.identityCertificatePem).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const store = new MemoryStateStore();
    const fuses = new Fuses(store);
    const flash = new Flash(store);
    flashFirmware(fuses, flash, firmware);
    boot = secureBoot(flash, fuses);
    const evidence = createPsaEvidence(made.security, made.identityCertificatePem, nonce.toString('base64url'), boot);
    token = Buffer.from(evidence.token, 'base64url');
  });

  it("decodes the emulator's token and verifies its signature", async () => {
    const platform = keyIdOf(firmware.bootloader.signerSpki);
    const app = keyIdOf(firmware.apps[0]!.signerSpki);
    expect(await python(token, publicKeyPem)).toEqual({
      valid: true,
      profile: PSA_PROFILE,
      nonce: nonce.toString('hex'),
      ueid: Buffer.from(instanceIdOf(made.security.publicKey)).toString('hex'),
      clientId: NSPE_CLIENT_ID,
      lifecycle: 0x3000,
      implementationId: ROM_MEASUREMENT,
      bootSeed: made.security.bootSeed.toString('hex'),
      components: [
        ['bootloader', boot.bootLog[1]!.sha256, null, platform],
        ['security-monitor', boot.bootLog[2]!.sha256, null, platform],
        ['os', boot.bootLog[3]!.sha256, firmware.os.manifest.version, platform],
        ['app:sensor', boot.bootLog[4]!.sha256, firmware.apps[0]!.manifest.version, app],
      ],
      securityVersions: boot.securityVersions,
    });
  });

  it('finds the signature invalid once the payload is changed', async () => {
    const changed = Buffer.from(token);
    const at = changed.indexOf(Buffer.from(boot.bootLog[3]!.sha256, 'hex'));
    changed[at]! ^= 0x01;
    expect(await python(changed, publicKeyPem)).toMatchObject({ valid: false });
  });
});
