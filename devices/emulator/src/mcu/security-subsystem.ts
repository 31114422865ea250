import { createSecureContext, type SecureContext } from 'node:tls';
import { generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { deviceIdFromPublicKey } from '@rampart/trust';

/**
 * The emulated security subsystem ("Pluton"): it creates the device key
 * pair inside itself and never hands out the private key. Callers get the
 * public key, signatures, and a TLS context in which the key is already
 * loaded — the emulated equivalent of a TLS stack calling into a secure
 * element. (Node's TLS needs the key material in-process; it stays in this
 * object's private field and the context built from it.)
 */
export class SecuritySubsystem {
  readonly #privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly deviceId: string;

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.#privateKey = privateKey;
    this.publicKey = publicKey;
    this.deviceId = deviceIdFromPublicKey(publicKey);
  }

  get publicKeySpki(): Buffer {
    return this.publicKey.export({ type: 'spki', format: 'der' });
  }

  /** ECDSA P-256 / SHA-256 signature, DER encoded. */
  sign(data: Uint8Array): Buffer {
    return cryptoSign('sha256', data, this.#privateKey);
  }

  /** A TLS client context presenting `certificatePem` with the device key. */
  tlsContext(certificatePem: string, trustedServerCaPem: string): SecureContext {
    const key = this.#privateKey.export({ type: 'pkcs8', format: 'pem' });
    return createSecureContext({ key, cert: certificatePem, ca: trustedServerCaPem, minVersion: 'TLSv1.2' });
  }
}
