import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
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
