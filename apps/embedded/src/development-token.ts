import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadOrCreateSecret } from './secrets.js';

const run = promisify(execFile);

/** Debian's softhsm2 package puts its module here (`apt-get install softhsm2`; the image carries it). */
export const SOFTHSM2_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
/** The development token's label (PKCS11_TOKEN_LABEL). */
export const DEVELOPMENT_TOKEN_LABEL = 'rampart-dev';
/** Under the data folder: the token's own directory (SoftHSM's configuration and its token files). */
export const DEVELOPMENT_TOKEN_DIR = 'softhsm';
/** Under the data folder's secrets: the token's user PIN, as the services read it (PKCS11_PIN_FILE). */
export const DEVELOPMENT_TOKEN_PIN_FILE = 'token-user.pin';

/** softhsm2-util is not on PATH: the pkcs11 development mode needs Debian's softhsm2. */
export class SoftHsmMissingError extends Error {
  override readonly name = 'SoftHsmMissingError';
  constructor(cause: unknown) {
    super('rampart up --keys pkcs11 needs SoftHSM2 (softhsm2-util and libsofthsm2.so): apt-get install softhsm2', { cause });
  }
}

/** Where the development token is and how the services reach it. */
export interface DevelopmentToken {
  readonly modulePath: string;
  readonly tokenLabel: string;
  /** The user PIN file, 0600 under the data folder's secrets. */
  readonly pinFile: string;
  /** SoftHSM2 reads its configuration from SOFTHSM2_CONF at C_Initialize: the process that opens the module needs it. */
  readonly softhsmConf: string;
  /** The token's own directory: the only place key material lives (encrypted by SoftHSM under the PIN). */
  readonly tokenDir: string;
  /** Initialised by this call (a token that holds no key yet). */
  readonly created: boolean;
}

/**
 * DEVELOPMENT: a SoftHSM2 token of the embedded platform's own under the
 * data folder, made on the first `rampart up --keys pkcs11` and found again
 * on every later one. Its own SOFTHSM2_CONF, so the machine's SoftHSM tokens
 * are neither seen nor touched. SoftHSM is a token in files: it runs the
 * pkcs11 path (keys generated and used inside a token, never exported)
 * where no hardware is, and protects nothing a hardware token would.
 */
export async function loadOrCreateDevelopmentToken(dataDir: string, modulePath = SOFTHSM2_MODULE): Promise<DevelopmentToken> {
  const dir = join(dataDir, DEVELOPMENT_TOKEN_DIR);
  const tokenDir = join(dir, 'tokens');
  await mkdir(tokenDir, { recursive: true, mode: 0o700 });
  const softhsmConf = join(dir, 'softhsm2.conf');
  await writeFile(softhsmConf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\n`, { mode: 0o600 });
  const secrets = join(dataDir, 'secrets');
  const newPin = () => randomBytes(18).toString('base64url');
  const pin = await loadOrCreateSecret(secrets, DEVELOPMENT_TOKEN_PIN_FILE, newPin);
  const env = { ...process.env, SOFTHSM2_CONF: softhsmConf };
  const softhsm = async (args: readonly string[]): Promise<string> => {
    try {
      return (await run('softhsm2-util', [...args], { env, encoding: 'utf8' })).stdout;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new SoftHsmMissingError(error);
      throw error;
    }
  };
  // softhsm2-util pads a label to 32 characters.
  const present = new RegExp(`^\\s*Label:\\s+${DEVELOPMENT_TOKEN_LABEL}\\s*$`, 'm').test(await softhsm(['--show-slots']));
  if (!present) {
    // The security officer's PIN is used here only (it could reset the user PIN): kept nowhere, so no service
    // that reads the user PIN can also read it. A development token that must be reset is made again.
    const soPin = newPin();
    // The PINs go to softhsm2-util as arguments (it takes them no other way): seen by this user's processes for a moment.
    await softhsm(['--init-token', '--free', '--label', DEVELOPMENT_TOKEN_LABEL, '--so-pin', soPin, '--pin', pin]);
  }
  return {
    modulePath,
    tokenLabel: DEVELOPMENT_TOKEN_LABEL,
    pinFile: join(secrets, DEVELOPMENT_TOKEN_PIN_FILE),
    softhsmConf,
    tokenDir,
    created: !present,
  };
}
