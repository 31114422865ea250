import type { KeyObject } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { Pkcs11ModuleError, TokenUnavailableError } from '../key-errors.js';
import type { KeyAlgorithm, KeyHandle, KeyProvider, Readiness } from '../key-provider.js';
import { parsePkcs11Options, type Pkcs11Options } from './pkcs11-options.js';
import { Pkcs11Token } from './pkcs11-token.js';

/** The options two openers of one module must agree on: one token, one login, one pool per process. */
const SHARED_OPTIONS = [
  'tokenLabel',
  'slot',
  'pinFile',
  'sessions',
  'reconnectIntervalMs',
] as const satisfies readonly (keyof Pkcs11Options)[];

interface OpenModule {
  readonly token: Pkcs11Token;
  readonly options: Pkcs11Options;
  /** Providers (leases) open on it: the token is closed when the last of them closes. */
  leases: number;
}

/**
 * The modules open in this process, by the module file's real path (two paths to one library through a symlink
 * are one module to the dynamic loader, and one PKCS#11 state). Two tokens of one module cannot coexist: the
 * second C_Initialize fails (CKR_CRYPTOKI_ALREADY_INITIALIZED), and each one's reconnect (C_Finalize) would end
 * the other's sessions and login.
 */
const opened = new Map<string, OpenModule>();
/** Modules whose last provider closed and which are still finalising: a new token of the module waits for it. */
const closing = new Map<string, Promise<void>>();

/**
 * Keys in a PKCS#11 token (SoftHSM2 in tests; YubiHSM 2, AWS CloudHSM,
 * Thales Luna in production), through pkcs11js: see Pkcs11Token for the
 * calls and the failure rules.
 *
 * One token per module per process: PKCS#11 state (C_Initialize, logins)
 * belongs to the process, and reconnecting finalises it. Each `open` is a
 * lease on the module's one token (the embedded platform runs attestation
 * and updates in one process): closing a lease twice is closing it once,
 * the token is closed when the last lease closes, and an `open` made while
 * it finalises waits for that before it initialises the module again. An
 * `open` of a module already open with other options (token, PIN file,
 * sessions, reconnect interval) is refused, naming them.
 */
export class Pkcs11KeyProvider implements KeyProvider {
  readonly kind = 'pkcs11';
  /** How messages name the token: `"label"` or `slot N`. */
  readonly token: string;
  readonly #module: string;
  readonly #shared: OpenModule;
  #closed = false;

  private constructor(module: string, shared: OpenModule) {
    this.#module = module;
    this.#shared = shared;
    this.token = shared.token.token;
  }

  /**
   * Validates the options (Pkcs11OptionsError names every bad one) and loads
   * the module (Pkcs11ModuleError). The token is reached on first use or
   * `ready()`, so a service starts while the token is absent and reports
   * not-ready until it is back.
   */
  static open(options: unknown): Pkcs11KeyProvider {
    const parsed = parsePkcs11Options(options);
    const module = realModulePath(parsed.modulePath);
    const shared = opened.get(module);
    if (shared !== undefined) {
      const differing = SHARED_OPTIONS.filter((key) => shared.options[key] !== parsed[key]);
      if (differing.length > 0) {
        throw new Pkcs11ModuleError(
          parsed.modulePath,
          `already open in this process for token ${shared.token.token} with other ${differing.join(', ')} (${differing
            .map((key) => `${key} ${String(shared.options[key])}, not ${String(parsed[key])}`)
            .join('; ')}): one token per module per process (PKCS#11 state is the process's)`,
        );
      }
      shared.leases += 1;
      return new Pkcs11KeyProvider(module, shared);
    }
    const created: OpenModule = { token: new Pkcs11Token(parsed, closing.get(module)), options: parsed, leases: 1 };
    opened.set(module, created);
    return new Pkcs11KeyProvider(module, created);
  }

  async supports(algorithm: KeyAlgorithm): Promise<boolean> {
    return this.live(undefined).supports(algorithm);
  }

  async generate(label: string, algorithm: KeyAlgorithm): Promise<KeyHandle> {
    return this.live(label).generate(label, algorithm);
  }

  async find(label: string): Promise<KeyHandle | undefined> {
    return this.live(label).find(label);
  }

  async sign(key: KeyHandle, data: Uint8Array): Promise<Buffer> {
    return this.live(key.label).sign(key, data);
  }

  async publicKey(label: string): Promise<KeyObject> {
    return this.live(label).publicKey(label);
  }

  async destroy(label: string): Promise<boolean> {
    return this.live(label).destroy(label);
  }

  async ready(labels: readonly string[] = []): Promise<Readiness> {
    if (this.#closed) {
      const error = new TokenUnavailableError(this.token, 'the provider is closed');
      return { ready: false, reason: error.message, error };
    }
    return this.#shared.token.ready(labels);
  }

  /** Ends this lease (a second call does nothing); the last lease of the module closes the token and finalises it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#shared.leases -= 1;
    if (this.#shared.leases > 0) return;
    if (opened.get(this.#module) === this.#shared) opened.delete(this.#module);
    // Kept until C_Finalize has returned (and any earlier finalising of the module), so an `open` in between
    // initialises the module after it, not before.
    const finalising = this.#shared.token.close();
    const done = Promise.all([closing.get(this.#module), finalising.catch(() => undefined)]).then(() => undefined);
    closing.set(this.#module, done);
    try {
      await finalising;
    } finally {
      await done;
      if (closing.get(this.#module) === done) closing.delete(this.#module);
    }
  }

  /** The module's token, unless this lease is closed: a closed lease signs nothing, whoever else holds the token. */
  private live(label: string | undefined): Pkcs11Token {
    if (this.#closed) throw new TokenUnavailableError(this.token, 'the provider is closed', label);
    return this.#shared.token;
  }
}

/** The module file's real path (symlinks resolved); the path as given when it cannot be resolved (loading it then fails by name). */
function realModulePath(modulePath: string): string {
  try {
    return realpathSync(modulePath);
  } catch {
    return modulePath;
  }
}
