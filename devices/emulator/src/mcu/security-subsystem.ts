import { createSecureContext, type SecureContext } from 'node:tls';
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { appSignedBytes, deviceIdFromSpki, es256Sign, spkiOf } from '@rampart/trust';
import { Fuses } from './fuses.js';
import { SealedStorage } from './sealed-storage.js';
import { MemoryStateStore, type DeviceStateStore } from './state-store.js';

/** The hardware-unique secret: in silicon on a real MCU, in the device's state here. */
const HUK_ENTRY = 'huk';
const KEY_ENTRY = 'device-key';
/** Identity certificate, operational certificate, and its successor during a renewal. */
const MAX_TLS_CONTEXTS = 3;
/** Boot seed size: RFC 9783 allows 8 to 32 bytes; Trusted Firmware-M sends 32. */
const BOOT_SEED_BYTES = 32;
const HUK_BYTES = 32;

export interface SecuritySubsystemOptions {
  /**
   * The subsystem's entropy source (its TRNG): the hardware-unique key and each power-on's boot seed come from it.
   * Default `crypto.randomBytes`; a test passes its own (STYLE §6: randomness is injected).
   */
  readonly randomBytes?: (size: number) => Uint8Array;
}

/**
 * The emulated security subsystem ("Pluton"): it creates the device key
 * pair inside itself and never hands out the private key. Callers get the
 * public key, signatures, and a TLS context in which the key is already
 * loaded — the emulated equivalent of a TLS stack calling into a secure
 * element. (Node's TLS needs the key material in-process; it stays in this
 * object's private field and the context built from it.)
 *
 * Its state — the sealed key, the fuses — lives in a `DeviceStateStore`, so
 * a device on a directory store keeps its identity across restarts.
 */
export class SecuritySubsystem {
  readonly #privateKey: KeyObject;
  /** TLS contexts by credential, most recent last: a device holds two (its identity and its operational certificate). */
  readonly #tlsContexts = new Map<string, SecureContext>();
  readonly publicKey: KeyObject;
  readonly publicKeySpki: Buffer;
  readonly deviceId: string;
  /** Fresh at each power-on: tells a verifier one boot session from another (RFC 9783 §4.3.2). */
  readonly bootSeed: Buffer;
  readonly fuses: Fuses;
  readonly sealed: SealedStorage;

  constructor(
    readonly store: DeviceStateStore = new MemoryStateStore(),
    options: SecuritySubsystemOptions = {},
  ) {
    const random = options.randomBytes ?? randomBytes;
    this.bootSeed = Buffer.from(random(BOOT_SEED_BYTES));
    let huk = store.read(HUK_ENTRY);
    if (huk === undefined) {
      huk = Buffer.from(random(HUK_BYTES));
      store.write(HUK_ENTRY, huk);
    }
    this.sealed = new SealedStorage(huk);
    this.fuses = new Fuses(store);
    const sealedKey = store.read(KEY_ENTRY);
    if (sealedKey === undefined) {
      this.#privateKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      store.write(KEY_ENTRY, this.sealed.seal(KEY_ENTRY, this.#privateKey.export({ type: 'pkcs8', format: 'der' })));
    } else {
      this.#privateKey = createPrivateKey({ key: this.sealed.unseal(KEY_ENTRY, sealedKey), format: 'der', type: 'pkcs8' });
    }
    this.publicKey = createPublicKey(this.#privateKey);
    this.publicKeySpki = spkiOf(this.publicKey);
    this.deviceId = deviceIdFromSpki(this.publicKeySpki);
  }

  /**
   * An app's signature (`auth.sign`): ECDSA P-256 / SHA-256, DER encoded, over `appSignedBytes(data)` (a fixed context ‖ data), never
   * over data alone, so an app holding the capability cannot have an attestation token or a TLS handshake signed.
   */
  appSign(data: Uint8Array): Buffer {
    return cryptoSign('sha256', appSignedBytes(data), this.#privateKey);
  }

  /**
   * The Initial Attestation service's signature (the device key is the IAK, as its IDevID certifies): ES256 in
   * COSE's r ‖ s form over a token's Sig_structure.
   */
  attestationSign(toBeSigned: Uint8Array): Uint8Array {
    return es256Sign(toBeSigned, this.#privateKey);
  }

  /**
   * A TLS client context presenting `certificatePem` with the device key. The same object while the
   * credential is the same: a device connects with each certificate many times until it is renewed, building
   * a context costs more than the handshake's own signature, and a kept-alive connection is keyed by it.
   */
  tlsContext(certificatePem: string, trustedServerCaPem: string): SecureContext {
    const id = `${certificatePem}\u0000${trustedServerCaPem}`;
    let context = this.#tlsContexts.get(id);
    if (context === undefined) {
      const key = this.#privateKey.export({ type: 'pkcs8', format: 'pem' });
      context = createSecureContext({ key, cert: certificatePem, ca: trustedServerCaPem, minVersion: 'TLSv1.2' });
      if (this.#tlsContexts.size >= MAX_TLS_CONTEXTS) this.#tlsContexts.delete(this.#tlsContexts.keys().next().value!);
    } else {
      this.#tlsContexts.delete(id);
    }
    this.#tlsContexts.set(id, context);
    return context;
  }
}
