import type { X509Certificate } from 'node:crypto';
import type { Logger } from '@rampart/service-kit';
import {
  IssuingCaKeyError,
  KeyNotFoundError,
  KeyProviderError,
  Pkcs11ModuleError,
  TokenLoginError,
  TokenUnavailableError,
  checkIssuingCaKey,
  errorForKey,
  type KeyHandle,
  type KeyProvider,
} from '@rampart/trust';

type CheckState =
  | { readonly kind: 'unchecked' }
  | { readonly kind: 'passed'; readonly key: KeyHandle }
  | { readonly kind: 'refused'; readonly error: IssuingCaKeyError };

/**
 * Whether the token's issuing key is the issuing CA certificate's key
 * (`checkIssuingCaKey`). Nothing is signed in the token until it is: a
 * token holding another key would sign tenant CAs that chain to nothing.
 *
 * The check runs when the token is first reached (at start-up if it is
 * there, else when it comes back) and again after any failure of the token,
 * since the token that answers next may be another one; not once per
 * signature. A key that is not the certificate's keeps the check refused
 * (IssuingCaKeyError) until the token fails and another is checked, or the
 * service restarts on other files.
 */
export class IssuingKeyCheck {
  #state: CheckState = { kind: 'unchecked' };
  #checking: Promise<KeyHandle> | undefined;
  /** Bumped by each token failure: a check that began before one does not record its result. */
  #generation = 0;
  #onPass: Array<() => void> = [];

  constructor(
    private readonly certificate: X509Certificate,
    private readonly provider: Pick<KeyProvider, 'kind' | 'find' | 'publicKey'>,
    readonly label: string,
    private readonly logger: Logger,
  ) {}

  /**
   * The issuing key, once known to be the certificate's. Otherwise the
   * provider's error naming this key (token absent, PIN refused, key
   * missing) or IssuingCaKeyError (another key).
   */
  key(): Promise<KeyHandle> {
    const state = this.#state;
    if (state.kind === 'passed') return Promise.resolve(state.key);
    if (state.kind === 'refused') return Promise.reject(state.error);
    this.#checking ??= this.check().finally(() => (this.#checking = undefined));
    return this.#checking;
  }

  /**
   * A call to the token failed. If the token itself failed (gone, login
   * refused, module down) or its issuing key went missing, the token that
   * answers next is checked again before it signs; a tenant key's own error
   * (missing, unusable) says nothing about the token and changes nothing.
   */
  tokenFailed(error: unknown): void {
    const tokenLost =
      error instanceof TokenUnavailableError ||
      error instanceof TokenLoginError ||
      error instanceof Pkcs11ModuleError ||
      (error instanceof KeyNotFoundError && error.label === this.label);
    if (!tokenLost) return;
    this.#generation += 1;
    if (this.#state.kind === 'unchecked') return;
    this.#state = { kind: 'unchecked' };
    this.logger.warn({ err: error, key: this.label }, 'the token failed: its issuing key is checked again before the next signature');
  }

  /** Runs `listener` once, when the check next passes (at once if it has passed and holds). */
  oncePassed(listener: () => void): void {
    if (this.#state.kind === 'passed') listener();
    else this.#onPass.push(listener);
  }

  private async check(): Promise<KeyHandle> {
    const generation = this.#generation;
    let key: KeyHandle;
    try {
      key = await checkIssuingCaKey(this.certificate, this.provider, this.label);
    } catch (error) {
      if (error instanceof IssuingCaKeyError) {
        if (generation === this.#generation) this.#state = { kind: 'refused', error };
        this.logger.error({ err: error, key: this.label }, 'the token holds another issuing key than the certificate names: not signing');
      }
      throw error instanceof KeyProviderError ? errorForKey(error, this.label) : error;
    }
    // A token failure during the check leaves it unchecked: this caller's signature goes to the token, which refuses if gone.
    if (generation === this.#generation) {
      this.#state = { kind: 'passed', key };
      this.logger.info({ key: this.label }, "the token's issuing key is the issuing CA certificate's: signing");
      for (const listener of this.#onPass.splice(0)) listener();
    }
    return key;
  }
}
