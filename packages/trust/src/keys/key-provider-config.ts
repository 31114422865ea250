import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { DEFAULT_PKCS11_SESSIONS } from './pkcs11/pkcs11-options.js';
import type { Pkcs11Options } from './pkcs11/pkcs11-options.js';
import type { KeyVault } from '../key-vault.js';
import type { KeyProvider } from './key-provider.js';
import { Pkcs11KeyProvider } from './pkcs11/pkcs11-key-provider.js';
import type { SealedKeyStore } from './sealed-key-store.js';
import { SoftwareKeyProvider } from './software-key-provider.js';

export const KEY_PROVIDER_KINDS = ['software', 'pkcs11'] as const;
export type KeyProviderKind = (typeof KEY_PROVIDER_KINDS)[number];

const absolutePath = (what: string) => z.string().refine(isAbsolute, `an absolute path: ${what}`).optional();

/**
 * The environment keys every service that signs reads, the same in each: a
 * service's schema spreads this shape and applies `withKeyProviderChoice`.
 * `software` (the default) keeps today's sealed keys; `pkcs11` names the
 * module, the token (by label or slot) and the mounted PIN file.
 */
export const keyProviderEnvShape = {
  KEYS_PROVIDER: z.enum(KEY_PROVIDER_KINDS).default('software'),
  /** The vendor's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so. */
  PKCS11_MODULE: absolutePath('the PKCS#11 module (.so)'),
  PKCS11_TOKEN_LABEL: z.string().min(1).max(32).optional(),
  PKCS11_SLOT: z.coerce.number().int().nonnegative().optional(),
  /** A file holding the user PIN (a mounted secret), read at each login so a rotated PIN is picked up. */
  PKCS11_PIN_FILE: absolutePath('the file holding the token PIN'),
  /** Sessions kept logged in: signatures in flight at once. */
  PKCS11_SESSIONS: z.coerce.number().int().min(1).max(64).default(DEFAULT_PKCS11_SESSIONS),
};

interface KeyProviderEnv {
  readonly KEYS_PROVIDER?: unknown;
  readonly PKCS11_MODULE?: unknown;
  readonly PKCS11_TOKEN_LABEL?: unknown;
  readonly PKCS11_SLOT?: unknown;
  readonly PKCS11_PIN_FILE?: unknown;
}

/**
 * A service schema's check that a pkcs11 install names its module, its token
 * (exactly one of label and slot) and its PIN file, and that a software
 * install names none of them: a half-configured token must stop start-up,
 * not quietly leave the keys in software. Runs even when other keys are bad.
 */
export function withKeyProviderChoice<S extends z.ZodType<KeyProviderEnv>>(schema: S): S {
  const pkcs11 = (e: KeyProviderEnv) => e.KEYS_PROVIDER === 'pkcs11';
  const always = { when: () => true };
  return schema
    .refine((e) => !pkcs11(e) || e.PKCS11_MODULE !== undefined, {
      path: ['PKCS11_MODULE'],
      message: 'required with KEYS_PROVIDER=pkcs11: the PKCS#11 module to load',
      ...always,
    })
    .refine((e) => !pkcs11(e) || e.PKCS11_PIN_FILE !== undefined, {
      path: ['PKCS11_PIN_FILE'],
      message: 'required with KEYS_PROVIDER=pkcs11: the file holding the token PIN',
      ...always,
    })
    .refine((e) => !pkcs11(e) || (e.PKCS11_TOKEN_LABEL === undefined) !== (e.PKCS11_SLOT === undefined), {
      path: ['PKCS11_TOKEN_LABEL'],
      message: 'with KEYS_PROVIDER=pkcs11 name the token by PKCS11_TOKEN_LABEL or PKCS11_SLOT, exactly one of them',
      ...always,
    })
    .refine(
      (e) =>
        pkcs11(e) ||
        (e.PKCS11_MODULE === undefined &&
          e.PKCS11_PIN_FILE === undefined &&
          e.PKCS11_TOKEN_LABEL === undefined &&
          e.PKCS11_SLOT === undefined),
      { path: ['KEYS_PROVIDER'], message: 'PKCS11_* settings are given but KEYS_PROVIDER is not pkcs11: set it, or unset them', ...always },
    );
}

/** Where a service's signing keys live: `software`, or a token and how to reach it. */
export type KeyProviderConfig = { readonly kind: 'software' } | { readonly kind: 'pkcs11'; readonly pkcs11: Pkcs11Options };

/** The typed config from a schema output that passed `withKeyProviderChoice`. */
export function keyProviderConfig(e: {
  readonly KEYS_PROVIDER: KeyProviderKind;
  readonly PKCS11_MODULE?: string | undefined;
  readonly PKCS11_TOKEN_LABEL?: string | undefined;
  readonly PKCS11_SLOT?: number | undefined;
  readonly PKCS11_PIN_FILE?: string | undefined;
  readonly PKCS11_SESSIONS: number;
}): KeyProviderConfig {
  if (e.KEYS_PROVIDER === 'software') return { kind: 'software' };
  if (e.PKCS11_MODULE === undefined || e.PKCS11_PIN_FILE === undefined) {
    throw new Error('keyProviderConfig: the schema did not apply withKeyProviderChoice');
  }
  return {
    kind: 'pkcs11',
    pkcs11: {
      modulePath: e.PKCS11_MODULE,
      ...(e.PKCS11_TOKEN_LABEL === undefined ? {} : { tokenLabel: e.PKCS11_TOKEN_LABEL }),
      ...(e.PKCS11_SLOT === undefined ? {} : { slot: e.PKCS11_SLOT }),
      pinFile: e.PKCS11_PIN_FILE,
      sessions: e.PKCS11_SESSIONS,
      reconnectIntervalMs: 1_000,
    },
  };
}

/**
 * The provider a config names. `software` needs where its sealed keys are
 * kept and the vault that seals them (a service backs the store with its own
 * table); `pkcs11` loads the module now (Pkcs11ModuleError if it cannot) and
 * reaches the token on first use, so a service starts while the token is
 * absent and reports not ready until it returns.
 */
export function openKeyProvider(config: KeyProviderConfig, software: () => { vault: KeyVault; store: SealedKeyStore }): KeyProvider {
  if (config.kind === 'pkcs11') return Pkcs11KeyProvider.open(config.pkcs11);
  const { vault, store } = software();
  return new SoftwareKeyProvider(vault, store);
}
