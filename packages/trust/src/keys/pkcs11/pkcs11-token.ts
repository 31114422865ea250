import { createHash, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { PKCS11, Template } from 'pkcs11js';
import {
  KeyExistsError,
  KeyNotFoundError,
  KeyProviderError,
  Pkcs11ModuleError,
  TokenLoginError,
  TokenOperationError,
  TokenUnavailableError,
  UnsupportedAlgorithmError,
  UnusableKeyError,
  errorForKey,
} from '../key-errors.js';
import { curveParameters, ecdsaSignatureToDer, isCurveParameters, publicKeyFromEcPoint } from '../key-encoding.js';
import { checkKeyLabel } from '../key-label.js';
import type { KeyAlgorithm, KeyHandle, Readiness } from '../key-provider.js';
import {
  CKK_EC_EDWARDS,
  CKM_EC_EDWARDS_KEY_PAIR_GEN,
  CKM_EDDSA,
  loadPkcs11Binding,
  returnValueOf,
  ulongOf,
  type Pkcs11Binding,
} from './pkcs11-binding.js';
import type { Pkcs11Options } from './pkcs11-options.js';
import { SessionPool } from './session-pool.js';

/** Both curves' signatures are 64 bytes: P-256 r‖s (PKCS#11 3.0 §2.3.1), Ed25519 R‖S (RFC 8032 §5.1.6). */
const SIGNATURE_BYTES = 64;
/** CKA_ID length: the first 20 bytes of SHA-256 over the label (the length of the usual SHA-1 key id, so tools show it alike). */
const KEY_ID_BYTES = 20;

/** Return values by their binding's name: a name the binding lacks does not compile. */
type ReturnValueName = Extract<keyof Pkcs11Binding, `CKR_${string}`>;

/** The token (or its session) is gone: drop the connection, report it unavailable, reconnect later. */
const TOKEN_LOST: readonly ReturnValueName[] = [
  'CKR_DEVICE_REMOVED',
  'CKR_DEVICE_ERROR',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_TOKEN_NOT_RECOGNIZED',
  'CKR_SESSION_CLOSED',
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SLOT_ID_INVALID',
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_CRYPTOKI_NOT_INITIALIZED',
  // Object handles die with the token's session state: SoftHSM2 returns this when its token directory goes away.
  'CKR_OBJECT_HANDLE_INVALID',
  'CKR_KEY_HANDLE_INVALID',
  'CKR_GENERAL_ERROR',
];
/** The PIN is wrong or unusable: retrying the same PIN only brings the token nearer to locking it. */
const PIN_REFUSED: readonly ReturnValueName[] = [
  'CKR_PIN_INCORRECT',
  'CKR_PIN_INVALID',
  'CKR_PIN_LEN_RANGE',
  'CKR_PIN_LOCKED',
  'CKR_PIN_EXPIRED',
  'CKR_USER_PIN_NOT_INITIALIZED',
];

interface TokenKey {
  readonly algorithm: KeyAlgorithm;
  readonly privateKey: Buffer;
  readonly publicKey: Buffer | undefined;
}

interface Connection {
  readonly slot: Buffer;
  readonly pool: SessionPool<Buffer>;
  readonly mechanisms: ReadonlySet<number>;
  /** Handles of keys already found: valid until the connection is lost. */
  readonly keys: Map<string, TokenKey>;
}

/**
 * One module's token, as this process reaches it: the PKCS#11 calls behind
 * Pkcs11KeyProvider (which see). Keys are generated inside the token,
 * sensitive and never extractable, and every signature is a C_Sign there. A
 * lost token, wrong PIN or missing key makes calls reject with an error
 * naming the token, the key and the cause, and `ready()` false; nothing is
 * signed any other way. The connection is rebuilt on the next call (at most
 * once per `reconnectIntervalMs`), so signing resumes when the token returns.
 *
 * Why pkcs11js rather than graphene-pk11 (measured on Node 24.22, SoftHSM2
 * 2.6.1, 2 shared cores; see README.md in this folder): both build the same
 * native addon (graphene is a layer over pkcs11js), sign P-256 at the same
 * rate, and neither names the PKCS#11 3.0 EdDSA constants; pkcs11js gives
 * promise-returning C_SignAsync and C_GenerateKeyPairAsync, which run in
 * libuv's thread pool and keep the event loop free while a network HSM
 * answers, and is the smaller surface to wrap.
 */
export class Pkcs11Token {
  readonly #binding: Pkcs11Binding;
  /** TOKEN_LOST and PIN_REFUSED as the binding's values, which a failed call's `code` is compared with. */
  readonly #tokenLost: ReadonlySet<number>;
  readonly #pinRefused: ReadonlySet<number>;
  readonly #module: PKCS11;
  readonly #options: Pkcs11Options;
  /** How messages name the token: `"label"` or `slot N`. */
  readonly token: string;
  #initialized = false;
  #connection: Connection | undefined;
  #connecting: Promise<Connection> | undefined;
  #lastFailure: { readonly error: KeyProviderError; readonly at: number } | undefined;
  /** SHA-256 of the PIN the token refused: not tried again until the PIN file changes. */
  #refusedPin: string | undefined;
  /** Generation runs one at a time, so two callers cannot both find a label free and make two keys under it. */
  #generating: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** A previous token of this module still finalising: C_Initialize waits for it (a second one would fail). */
  readonly #after: Promise<void>;

  /** Loads the module (Pkcs11ModuleError); the token is reached on first use, once `after` has settled. */
  constructor(options: Pkcs11Options, after: Promise<void> = Promise.resolve()) {
    this.#options = options;
    this.#after = after;
    this.token = options.tokenLabel !== undefined ? JSON.stringify(options.tokenLabel) : `slot ${options.slot ?? '?'}`;
    this.#binding = loadPkcs11Binding(options.modulePath);
    this.#tokenLost = new Set(TOKEN_LOST.map((name) => this.#binding[name]));
    this.#pinRefused = new Set(PIN_REFUSED.map((name) => this.#binding[name]));
    this.#module = new this.#binding.PKCS11();
    try {
      this.#module.load(options.modulePath);
    } catch (error) {
      throw new Pkcs11ModuleError(options.modulePath, 'cannot be loaded', { cause: error });
    }
  }

  async supports(algorithm: KeyAlgorithm): Promise<boolean> {
    const { mechanisms } = await this.connection(undefined);
    return mechanismsOf(algorithm, this.#binding).every((m) => mechanisms.has(m));
  }

  generate(label: string, algorithm: KeyAlgorithm): Promise<KeyHandle> {
    checkKeyLabel(label);
    const run = this.#generating.then(() => this.generateNow(label, algorithm));
    this.#generating = run.catch(() => undefined);
    return run;
  }

  async find(label: string): Promise<KeyHandle | undefined> {
    checkKeyLabel(label);
    const key = await this.lookup(await this.connection(label), label);
    return key === undefined ? undefined : { label, algorithm: key.algorithm };
  }

  async sign(key: KeyHandle, data: Uint8Array): Promise<Buffer> {
    const connection = await this.connection(key.label);
    const found = await this.lookup(connection, key.label);
    if (found === undefined) throw new KeyNotFoundError(key.label, `token ${this.token}`);
    if (found.algorithm !== key.algorithm) throw new UnusableKeyError(key.label, `it is ${found.algorithm}, not ${key.algorithm}`);
    const b = this.#binding;
    // ECDSA: SHA-256 here, the raw CKM_ECDSA in the token. Every ECDSA token has CKM_ECDSA; CKM_ECDSA_SHA256 is missing
    // from some (SoftHSM2 among them), and the digest of a certificate is no secret.
    const [mechanism, input] =
      key.algorithm === 'ecdsa-p256'
        ? [b.CKM_ECDSA, createHash('sha256').update(data).digest()]
        : [CKM_EDDSA, Buffer.from(data.buffer, data.byteOffset, data.byteLength)];
    if (!connection.mechanisms.has(mechanism)) throw new UnsupportedAlgorithmError(key.label, key.algorithm, this.token);
    try {
      const raw = await connection.pool.use(async (session) => {
        this.#module.C_SignInit(session, { mechanism }, found.privateKey);
        return this.#module.C_SignAsync(session, input, Buffer.alloc(SIGNATURE_BYTES));
      });
      return key.algorithm === 'ecdsa-p256' ? ecdsaSignatureToDer(raw) : Buffer.from(raw);
    } catch (error) {
      throw this.failed(connection, error, 'C_Sign', key.label);
    }
  }

  async publicKey(label: string): Promise<KeyObject> {
    const connection = await this.connection(label);
    const found = await this.lookup(connection, label);
    if (found?.publicKey === undefined) throw new KeyNotFoundError(label, `token ${this.token} (its public key object)`);
    const publicKey = found.publicKey;
    const [point] = await this.call(connection, 'C_GetAttributeValue', label, (session) =>
      this.#module.C_GetAttributeValue(session, publicKey, [{ type: this.#binding.CKA_EC_POINT }]),
    );
    if (!(point?.value instanceof Buffer)) throw new UnusableKeyError(label, 'its public key has no CKA_EC_POINT');
    return publicKeyFromEcPoint(found.algorithm, point.value);
  }

  async ready(labels: readonly string[] = []): Promise<Readiness> {
    try {
      const connection = await this.connection(undefined);
      // Asks the token itself, not this process's view of it; a removed token fails here.
      await this.call(connection, 'C_GetTokenInfo', undefined, () => this.#module.C_GetTokenInfo(connection.slot));
      for (const label of labels) {
        connection.keys.delete(label); // look again: the key may have been deleted from the token since it was found
        if ((await this.lookup(connection, label)) === undefined) throw new KeyNotFoundError(label, `token ${this.token}`);
      }
      return { ready: true };
    } catch (error) {
      const failure =
        error instanceof KeyProviderError
          ? error
          : new TokenOperationError(this.token, 'the readiness probe', 'error', undefined, { cause: error });
      return { ready: false, reason: failure.message, error: failure };
    }
  }

  /** C_DestroyObject on every private and public key object so labelled; serialised with `generate`, like it. */
  destroy(label: string): Promise<boolean> {
    checkKeyLabel(label);
    const run = this.#generating.then(() => this.destroyNow(label));
    this.#generating = run.catch(() => undefined);
    return run;
  }

  /** Ends the connection once the calls running on it have returned, finalises the module and unloads it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.disconnect(new TokenUnavailableError(this.token, 'the provider is closed'));
    this.#module.close();
  }

  private async generateNow(label: string, algorithm: KeyAlgorithm): Promise<KeyHandle> {
    const connection = await this.connection(label);
    if (!mechanismsOf(algorithm, this.#binding).every((m) => connection.mechanisms.has(m))) {
      throw new UnsupportedAlgorithmError(label, algorithm, this.token);
    }
    if ((await this.lookup(connection, label)) !== undefined) throw new KeyExistsError(label, `token ${this.token}`);
    const b = this.#binding;
    const keyType = algorithm === 'ecdsa-p256' ? b.CKK_EC : CKK_EC_EDWARDS;
    const id = createHash('sha256').update(label).digest().subarray(0, KEY_ID_BYTES);
    // The id goes in the templates rather than being set afterwards: some HSMs refuse to change CKA_ID once made.
    const common: Template = [
      { type: b.CKA_KEY_TYPE, value: keyType },
      { type: b.CKA_TOKEN, value: true },
      { type: b.CKA_LABEL, value: label },
      { type: b.CKA_ID, value: id },
    ];
    const publicTemplate: Template = [
      ...common,
      { type: b.CKA_CLASS, value: b.CKO_PUBLIC_KEY },
      { type: b.CKA_PRIVATE, value: false },
      { type: b.CKA_VERIFY, value: true },
      { type: b.CKA_ENCRYPT, value: false },
      { type: b.CKA_WRAP, value: false },
      { type: b.CKA_EC_PARAMS, value: curveParameters(algorithm) },
    ];
    const privateTemplate: Template = [
      ...common,
      { type: b.CKA_CLASS, value: b.CKO_PRIVATE_KEY },
      { type: b.CKA_PRIVATE, value: true },
      { type: b.CKA_SENSITIVE, value: true },
      { type: b.CKA_EXTRACTABLE, value: false },
      { type: b.CKA_SIGN, value: true },
      // A signing key does nothing else: tokens default these to true (SoftHSM2 does), and a CA key that can also
      // decrypt, unwrap or derive is one an attacker with a session can use as an oracle for other keys.
      { type: b.CKA_DECRYPT, value: false },
      { type: b.CKA_UNWRAP, value: false },
      { type: b.CKA_DERIVE, value: false },
    ];
    const mechanism = algorithm === 'ecdsa-p256' ? b.CKM_EC_KEY_PAIR_GEN : CKM_EC_EDWARDS_KEY_PAIR_GEN;
    try {
      const pair = await connection.pool.use((session) =>
        this.#module.C_GenerateKeyPairAsync(session, { mechanism }, publicTemplate, privateTemplate),
      );
      connection.keys.set(label, { algorithm, privateKey: pair.privateKey, publicKey: pair.publicKey });
      return { label, algorithm };
    } catch (error) {
      throw this.failed(connection, error, 'C_GenerateKeyPair', label);
    }
  }

  private async destroyNow(label: string): Promise<boolean> {
    const connection = await this.connection(label);
    connection.keys.delete(label);
    const b = this.#binding;
    const objects = [
      ...(await this.findObjects(connection, label, b.CKO_PRIVATE_KEY)),
      ...(await this.findObjects(connection, label, b.CKO_PUBLIC_KEY)),
    ];
    for (const object of objects) {
      await this.call(connection, 'C_DestroyObject', label, (session) => this.#module.C_DestroyObject(session, object));
    }
    return objects.length > 0;
  }

  /** The key's handles, from the cache or a search of the token by label; undefined when the token has no private key so labelled. */
  private async lookup(connection: Connection, label: string): Promise<TokenKey | undefined> {
    const cached = connection.keys.get(label);
    if (cached !== undefined) return cached;
    const b = this.#binding;
    const privateKeys = await this.findObjects(connection, label, b.CKO_PRIVATE_KEY);
    if (privateKeys.length === 0) return undefined;
    if (privateKeys.length > 1)
      throw new UnusableKeyError(label, `token ${this.token} holds ${privateKeys.length} private keys so labelled`);
    const privateKey = privateKeys[0]!;
    const [keyType, parameters] = await this.call(connection, 'C_GetAttributeValue', label, (session) =>
      this.#module.C_GetAttributeValue(session, privateKey, [{ type: b.CKA_KEY_TYPE }, { type: b.CKA_EC_PARAMS }]),
    );
    const algorithm = algorithmOf(keyType?.value, parameters?.value, b);
    if (algorithm === undefined) throw new UnusableKeyError(label, 'it is neither a P-256 nor an Ed25519 key');
    const [publicKey] = await this.findObjects(connection, label, b.CKO_PUBLIC_KEY);
    const key = { algorithm, privateKey, publicKey };
    connection.keys.set(label, key);
    return key;
  }

  private findObjects(connection: Connection, label: string, objectClass: number): Promise<Buffer[]> {
    const b = this.#binding;
    return this.call(connection, 'C_FindObjects', label, (session) => {
      this.#module.C_FindObjectsInit(session, [
        { type: b.CKA_CLASS, value: objectClass },
        { type: b.CKA_LABEL, value: label },
      ]);
      try {
        return this.#module.C_FindObjects(session, 2);
      } finally {
        this.#module.C_FindObjectsFinal(session);
      }
    });
  }

  /**
   * A synchronous call in a lent session: it runs to completion on this
   * thread, but the session must not be one a C_SignAsync is using on
   * another.
   */
  private async call<T>(connection: Connection, operation: string, label: string | undefined, run: (session: Buffer) => T): Promise<T> {
    try {
      return await connection.pool.use((session) => Promise.resolve(run(session)));
    } catch (error) {
      throw this.failed(connection, error, operation, label);
    }
  }

  /**
   * The live connection, or a new one: reconnecting finalises and
   * re-initialises the module, since most modules (SoftHSM2 among them) only
   * see a returned token after C_Initialize.
   */
  private async connection(label: string | undefined): Promise<Connection> {
    if (this.#closed) throw new TokenUnavailableError(this.token, 'the provider is closed', label);
    const live = this.#connection;
    if (live !== undefined && !live.pool.closed) return live;
    const last = this.#lastFailure;
    if (last !== undefined && Date.now() - last.at < this.#options.reconnectIntervalMs) throw errorForKey(last.error, label);
    this.#connecting ??= this.connect().finally(() => (this.#connecting = undefined));
    try {
      return await this.#connecting;
    } catch (error) {
      throw errorForKey(error as KeyProviderError, label);
    }
  }

  private async connect(): Promise<Connection> {
    await this.#after;
    await this.disconnect(new TokenUnavailableError(this.token, 'reconnecting'));
    const b = this.#binding;
    try {
      try {
        // OS locking: pkcs11js's *Async calls run on libuv's threads, and SoftHSM2 crashed the process under
        // concurrent sessions without it (measured).
        this.#module.C_Initialize({ flags: b.CKF_OS_LOCKING_OK });
      } catch (error) {
        throw new Pkcs11ModuleError(this.#options.modulePath, `C_Initialize failed: ${returnValueOf(error, b)?.name ?? String(error)}`, {
          cause: error,
        });
      }
      this.#initialized = true;
      const slot = this.findSlot();
      const pin = await this.readPin();
      const first = this.openSession(slot);
      try {
        this.#module.C_Login(first, b.CKU_USER, pin);
      } catch (error) {
        const returned = returnValueOf(error, b);
        if (returned?.code !== b.CKR_USER_ALREADY_LOGGED_IN) {
          if (returned !== undefined && this.#pinRefused.has(returned.code)) this.#refusedPin = digest(pin);
          throw this.classify(error, 'C_Login', undefined);
        }
      }
      const sessions = [first];
      while (sessions.length < this.#options.sessions) sessions.push(this.openSession(slot));
      const connection: Connection = {
        slot,
        pool: new SessionPool(sessions),
        mechanisms: new Set(this.#module.C_GetMechanismList(slot)),
        keys: new Map(),
      };
      this.#connection = connection;
      this.#lastFailure = undefined;
      return connection;
    } catch (error) {
      const failure = error instanceof KeyProviderError ? error : this.classify(error, 'connecting', undefined);
      this.#lastFailure = { error: failure, at: Date.now() };
      throw failure;
    }
  }

  private findSlot(): Buffer {
    const { tokenLabel, slot: slotId } = this.#options;
    let slots: Buffer[];
    try {
      slots = this.#module.C_GetSlotList(true);
    } catch (error) {
      throw this.classify(error, 'C_GetSlotList', undefined);
    }
    const slot = slots.find((s) =>
      tokenLabel !== undefined ? this.#module.C_GetTokenInfo(s).label.trimEnd() === tokenLabel : ulongOf(s) === slotId,
    );
    if (slot === undefined) throw new TokenUnavailableError(this.token, 'no slot holds it (token absent)');
    return slot;
  }

  private async readPin(): Promise<string> {
    let pin: string;
    try {
      pin = (await readFile(this.#options.pinFile, 'utf8')).replace(/\r?\n$/, '');
    } catch (error) {
      throw new TokenLoginError(this.token, `the PIN file ${this.#options.pinFile} cannot be read`, undefined, { cause: error });
    }
    if (this.#refusedPin === digest(pin)) {
      throw new TokenLoginError(
        this.token,
        `the token refused the PIN in ${this.#options.pinFile}; not trying it again until that file changes`,
      );
    }
    return pin;
  }

  private openSession(slot: Buffer): Buffer {
    const b = this.#binding;
    try {
      return this.#module.C_OpenSession(slot, b.CKF_SERIAL_SESSION | b.CKF_RW_SESSION);
    } catch (error) {
      throw this.classify(error, 'C_OpenSession', undefined);
    }
  }

  /** Ends the connection (if any) once the calls running on it have returned, and finalises the module. */
  private async disconnect(reason: KeyProviderError): Promise<void> {
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection !== undefined) {
      connection.pool.close(reason);
      await connection.pool.drained();
    }
    if (this.#initialized) {
      this.#initialized = false;
      try {
        this.#module.C_Finalize(); // also closes every session and logs out
      } catch {
        // A module whose token went away may fail to finalise cleanly; C_Initialize starts afresh either way.
      }
    }
  }

  /** The error for a failed call, and, when it means the token is gone, the end of this connection. */
  private failed(connection: Connection, error: unknown, operation: string, label: string | undefined): KeyProviderError {
    const failure = this.classify(error, operation, label);
    if (failure instanceof TokenUnavailableError || failure instanceof TokenLoginError) {
      connection.pool.close(failure);
      if (this.#connection === connection) this.#lastFailure = { error: failure, at: Date.now() };
    }
    return failure;
  }

  private classify(error: unknown, operation: string, label: string | undefined): KeyProviderError {
    if (error instanceof KeyProviderError) return errorForKey(error, label);
    const returned = returnValueOf(error, this.#binding);
    if (returned === undefined) return new TokenOperationError(this.token, operation, 'not a PKCS#11 error', label, { cause: error });
    const { code, name } = returned;
    if (this.#pinRefused.has(code)) return new TokenLoginError(this.token, `${operation}: ${name}`, label, { cause: error });
    if (this.#tokenLost.has(code)) return new TokenUnavailableError(this.token, `${operation}: ${name}`, label, { cause: error });
    return new TokenOperationError(this.token, operation, name, label, { cause: error });
  }
}

function mechanismsOf(algorithm: KeyAlgorithm, b: Pkcs11Binding): readonly number[] {
  return algorithm === 'ecdsa-p256' ? [b.CKM_EC_KEY_PAIR_GEN, b.CKM_ECDSA] : [CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA];
}

function algorithmOf(keyType: unknown, parameters: unknown, b: Pkcs11Binding): KeyAlgorithm | undefined {
  if (!(keyType instanceof Buffer) || !(parameters instanceof Buffer)) return undefined;
  const type = ulongOf(keyType);
  if (type === b.CKK_EC && isCurveParameters('ecdsa-p256', parameters)) return 'ecdsa-p256';
  if (type === CKK_EC_EDWARDS && isCurveParameters('ed25519', parameters)) return 'ed25519';
  return undefined;
}

function digest(pin: string): string {
  return createHash('sha256').update(pin).digest('hex');
}
