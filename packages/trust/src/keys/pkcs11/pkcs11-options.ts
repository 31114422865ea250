import { isAbsolute } from 'node:path';
import { z } from 'zod';

/** Sessions kept open and logged in: signatures in flight at once (each session runs one operation at a time). */
export const DEFAULT_PKCS11_SESSIONS = 4;
/** After the token fails, how long calls get that failure back before the module is asked again (a C_Initialize per call would load a remote HSM). */
export const DEFAULT_PKCS11_RECONNECT_INTERVAL_MS = 1_000;

const absolutePath = z.string().refine(isAbsolute, 'an absolute path');

/**
 * Where the token is and how to log in. The token is named by its label
 * (stable across reboots and re-plugs) or by slot id (what some HSM vendors
 * document); the PIN comes from a file, a mounted secret, read at each login
 * so a rotated PIN is picked up.
 */
export const pkcs11OptionsSchema = z
  .object({
    modulePath: absolutePath,
    tokenLabel: z.string().min(1).max(32).optional(),
    slot: z.number().int().nonnegative().optional(),
    pinFile: absolutePath,
    sessions: z.number().int().min(1).max(64).default(DEFAULT_PKCS11_SESSIONS),
    reconnectIntervalMs: z.number().int().nonnegative().default(DEFAULT_PKCS11_RECONNECT_INTERVAL_MS),
  })
  .strict()
  .refine((o) => (o.tokenLabel === undefined) !== (o.slot === undefined), {
    message: 'name the token by tokenLabel or by slot, exactly one of them',
    path: ['tokenLabel'],
  });

export type Pkcs11Options = z.infer<typeof pkcs11OptionsSchema>;

/** Invalid provider options; `issues` names every bad key at once. */
export class Pkcs11OptionsError extends Error {
  override readonly name = 'Pkcs11OptionsError';
  constructor(readonly issues: readonly { readonly key: string; readonly message: string }[]) {
    super(`invalid PKCS#11 key provider options: ${issues.map((i) => `${i.key}: ${i.message}`).join('; ')}`);
  }
}

export function parsePkcs11Options(input: unknown): Pkcs11Options {
  const result = pkcs11OptionsSchema.safeParse(input);
  if (result.success) return result.data;
  throw new Pkcs11OptionsError(
    result.error.issues.map((issue) => ({ key: issue.path.map(String).join('.') || '(options)', message: issue.message })),
  );
}
