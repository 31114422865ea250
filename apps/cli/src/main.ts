#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { registerAuth } from './commands/auth.js';
import { registerCeremony } from './commands/ceremony.js';
import { registerCeremonyTuf } from './commands/ceremony-tuf.js';
import { registerCompletion } from './commands/completion.js';
import { registerDeployment } from './commands/deployment.js';
import { registerDevice } from './commands/device.js';
import { registerFailures } from './commands/failures.js';
import { registerImage } from './commands/image.js';
import { registerImagePacking } from './commands/images.js';
import { registerMeasurement } from './commands/measurement.js';
import { registerPlatform } from './commands/platform.js';
import { registerProduct } from './commands/product.js';
import { registerTelemetry } from './commands/telemetry.js';
import { registerTenant } from './commands/tenant.js';
import { registerTuf } from './commands/tuf.js';
import { errorMessage } from './errors.js';

/** The command tree (exported so tests can walk every command's help, usage errors and completion). */
export const program = new Command('rampart')
  .description('Rampart: secure fleets of microcontroller-class devices')
  // Global: where to call and as whom. Never an env default here: commander prints defaults in --help, and a token must never be echoed.
  .option('--api <url>', 'the API base URL (else RAMPART_API, else the current context)')
  .option('--token <token>', 'an API token (else RAMPART_TOKEN, else the current context)')
  .option('--context <name>', 'use this context (else RAMPART_CONTEXT, else the current one)')
  .configureHelp({ showGlobalOptions: true })
  .showHelpAfterError();

registerAuth(program);
registerPlatform(program);
registerTenant(program);
registerDevice(program);
registerImage(program);
registerImagePacking(program);
registerProduct(program);
registerDeployment(program);
registerFailures(program);
registerMeasurement(program);
registerTelemetry(program);
registerTuf(program);
// The offline ceremonies, one group: the CA root's and the TUF root's.
registerCeremonyTuf(registerCeremony(program));
registerCompletion(program);

/** Run as the `rampart` command (through any symlink), not when imported. */
const entry = process.argv[1];
if (entry !== undefined && realpathSync(entry) === fileURLToPath(import.meta.url)) {
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    // Commander prints its own usage errors and exits; anything that reaches here is a command's failure.
    process.stderr.write(`${errorMessage(error)}\n`);
    process.exitCode = 1;
  }
}
