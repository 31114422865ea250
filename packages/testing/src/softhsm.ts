import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Debian's softhsm2 package (scripts/ensure-services.sh installs it). */
export const SOFTHSM2_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

/** A SoftHSM2 token of a test's own, in a folder of its own. */
export interface SoftHsmToken {
  readonly label: string;
  readonly pin: string;
  /** Where the token's objects live (a test may move it away to pull the token). */
  readonly tokenDir: string;
  /** The user PIN, in a file (mode 0600), as the platform reads it. */
  readonly pinFile: string;
  /** SoftHSM2 reads its configuration at C_Initialize from SOFTHSM2_CONF: give this to the process that opens the module. */
  readonly env: { readonly SOFTHSM2_CONF: string };
}

/** Makes an initialised token under `dir` (which the caller removes): its configuration, the token and a PIN file. */
export async function createSoftHsmToken(dir: string, label: string, pin: string): Promise<SoftHsmToken> {
  const tokenDir = join(dir, 'tokens');
  await mkdir(tokenDir, { recursive: true });
  const conf = join(dir, 'softhsm2.conf');
  await writeFile(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  const env = { SOFTHSM2_CONF: conf };
  // The security officer's PIN is never used again: tokens here live as long as one test file.
  await run('softhsm2-util', ['--init-token', '--free', '--label', label, '--so-pin', `so-${pin}`, '--pin', pin], {
    env: { ...process.env, ...env },
  });
  const pinFile = join(dir, 'pin');
  await writeFile(pinFile, `${pin}\n`, { mode: 0o600 });
  return { label, pin, tokenDir, pinFile, env };
}

/** A private key as the token reports it, read with a session of its own, and what reading its value gave. */
export interface TokenKeyAttributes {
  readonly label: string;
  /** CKA_ID, hex. */
  readonly CKA_ID: string;
  readonly CKA_TOKEN: boolean;
  readonly CKA_PRIVATE: boolean;
  readonly CKA_SENSITIVE: boolean;
  readonly CKA_EXTRACTABLE: boolean;
  readonly CKA_ALWAYS_SENSITIVE: boolean;
  readonly CKA_NEVER_EXTRACTABLE: boolean;
  readonly CKA_SIGN: boolean;
  /** A signing key does nothing else: these are false on every key the provider makes. */
  readonly CKA_DECRYPT: boolean;
  readonly CKA_UNWRAP: boolean;
  readonly CKA_DERIVE: boolean;
  /** `read` if the token gave the key's value out; otherwise its refusal (CKR_ATTRIBUTE_SENSITIVE). */
  readonly CKA_VALUE: string;
}

/** What reading a token's keys needs: the token's label and user PIN, and the SoftHSM2 configuration that holds it. */
export type TokenToRead = Pick<SoftHsmToken, 'label' | 'pin' | 'env'>;

/**
 * Reads private keys' attributes back in another process, with its own
 * PKCS#11 session (neither the service's nor the provider under test's), as
 * an HSM auditor would, and tries to read each key's value. Every private key,
 * or those labelled `label` (argv: binding, module, token, PIN[, label]).
 */
const KEY_READER = `
const [bindingPath, modulePath, token, pin, label] = process.argv.slice(1);
const pkcs11js = require(bindingPath);
const p = new pkcs11js.PKCS11();
p.load(modulePath);
p.C_Initialize();
try {
  const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.trim() === token);
  const session = p.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
  p.C_Login(session, pkcs11js.CKU_USER, pin);
  const template = [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY }];
  if (label !== undefined) template.push({ type: pkcs11js.CKA_LABEL, value: label });
  p.C_FindObjectsInit(session, template);
  const keys = p.C_FindObjects(session, 10000);
  p.C_FindObjectsFinal(session);
  const flags = ['CKA_TOKEN', 'CKA_PRIVATE', 'CKA_SENSITIVE', 'CKA_EXTRACTABLE', 'CKA_ALWAYS_SENSITIVE', 'CKA_NEVER_EXTRACTABLE', 'CKA_SIGN', 'CKA_DECRYPT', 'CKA_UNWRAP', 'CKA_DERIVE'];
  const out = keys.map((key) => {
    const [name, id, ...read] = p.C_GetAttributeValue(session, key, [{ type: pkcs11js.CKA_LABEL }, { type: pkcs11js.CKA_ID }, ...flags.map((n) => ({ type: pkcs11js[n] }))]);
    const attributes = { label: name.value.toString(), CKA_ID: id.value.toString('hex'), ...Object.fromEntries(flags.map((n, i) => [n, read[i].value[0] === 1])) };
    try { p.C_GetAttributeValue(session, key, [{ type: pkcs11js.CKA_VALUE }]); attributes.CKA_VALUE = 'read'; } catch (e) { attributes.CKA_VALUE = e.message; }
    return attributes;
  });
  console.log(JSON.stringify(out));
} finally {
  p.C_Finalize();
}
`;

/** Every private key on the token (or those labelled `label`), read by another process in its own session. */
export async function readTokenKeys(token: TokenToRead, label?: string): Promise<TokenKeyAttributes[]> {
  // pkcs11js is @rampart/trust's (optional) dependency: resolved from there, as the provider loads it.
  const trustEntry = createRequire(import.meta.url).resolve('@rampart/trust');
  const binding = createRequire(trustEntry).resolve('pkcs11js');
  const args = [binding, SOFTHSM2_MODULE, token.label, token.pin, ...(label === undefined ? [] : [label])];
  const { stdout } = await run(process.execPath, ['-e', KEY_READER, ...args], { env: { ...process.env, ...token.env } });
  return JSON.parse(stdout) as TokenKeyAttributes[];
}

/** The private key `label`'s attributes (as readTokenKeys reads them); null when the token holds no such key. */
export async function readTokenKeyAttributes(token: TokenToRead, label: string): Promise<TokenKeyAttributes | null> {
  const keys = await readTokenKeys(token, label);
  if (keys.length > 1) throw new Error(`the token holds ${keys.length} private keys labelled ${label}`);
  return keys[0] ?? null;
}
