import { ApiClient, ApiHttpError } from '@rampart/api-client';
import type { Command } from 'commander';
import { configPath, readConfig, writeConfig, type CliConfig } from '../config/config-file.js';
import { print } from '../output/format.js';
import { outputOption } from '../options.js';

/** Who a token is, as the API says (GET /v1/whoami). */
export type Identity = { readonly kind: 'platform' } | { readonly kind: 'tenant'; readonly tenantId: string; readonly role: string };

export function registerAuth(program: Command): void {
  program
    .command('login')
    .usage('--api URL [--name NAME] [--token-stdin]')
    .description('Check a token against an API (--api URL, e.g. http://127.0.0.1:8000) and keep both as the current context')
    .option('--name <name>', "the context's name (default: the API's host:port)")
    .option('--token-stdin', 'read the token from standard input (otherwise RAMPART_TOKEN, or a prompt on a terminal)')
    .action(async (o: { name?: string; tokenStdin?: boolean }, command: Command) => {
      // --api and --token are the program's own options (every command takes them), read here like any command does.
      const globals = command.optsWithGlobals<{ api?: string; token?: string }>();
      const given = globals.api ?? process.env['RAMPART_API'];
      if (given === undefined || given === '') throw new Error('login needs --api URL (e.g. rampart login --api http://127.0.0.1:8000)');
      const api = checkedUrl(given);
      const name = o.name ?? new URL(api).host;
      const token = await tokenFor(o.tokenStdin === true, globals.token);
      const who = await whoami(api, token);
      const path = configPath();
      const config = await readConfig(path);
      await writeConfig(path, { contexts: { ...config.contexts, [name]: { api, token } }, current: name });
      const as = who.kind === 'platform' ? 'the platform operator' : `${who.role} of tenant ${who.tenantId}`;
      process.stdout.write(`Logged in to ${api} as ${as}. Context "${name}" is current (${path}).\n`);
    });

  program
    .command('logout')
    .description('Forget the current context (or --context NAME) and its token')
    .action(async (_o: unknown, command: Command) => {
      const path = configPath();
      const config = await readConfig(path);
      const name = command.optsWithGlobals<{ context?: string }>().context ?? process.env['RAMPART_CONTEXT'] ?? config.current;
      if (name === null || name === '' || config.contexts[name] === undefined)
        throw new Error(name ? `no context "${name}"` : 'not logged in');
      await writeConfig(path, without(config, name));
      process.stdout.write(`Logged out: context "${name}" and its token removed.\n`);
    });

  const context = program.command('context').description('Named API contexts (like kubectl config get-contexts / use-context)');
  context
    .command('list')
    .description('contexts, the current one marked (tokens are never shown)')
    .addOption(outputOption())
    .action(async (o: { output: 'table' | 'wide' | 'json' | 'yaml' }) => {
      const config = await readConfig(configPath());
      const rows = Object.entries(config.contexts).map(([name, c]) => ({ current: name === config.current, name, api: c.api }));
      await print(o.output, rows, {
        empty: 'No contexts: run rampart login --api URL',
        columns: [
          { header: 'CURRENT', value: (r) => (r.current ? '*' : '') },
          { header: 'NAME', value: (r) => r.name },
          { header: 'API', value: (r) => r.api },
        ],
      });
    });
  context
    .command('use <name>')
    .description('make a context the current one')
    .action(async (name: string) => {
      const path = configPath();
      const config = await readConfig(path);
      if (config.contexts[name] === undefined) throw new Error(unknownContext(config, name));
      await writeConfig(path, { ...config, current: name });
      process.stdout.write(`Context "${name}" is current (${config.contexts[name].api}).\n`);
    });
  context
    .command('delete <name>')
    .description('forget a context and its token')
    .action(async (name: string) => {
      const path = configPath();
      const config = await readConfig(path);
      if (config.contexts[name] === undefined) throw new Error(unknownContext(config, name));
      await writeConfig(path, without(config, name));
      process.stdout.write(`Context "${name}" deleted.\n`);
    });
}

function without(config: CliConfig, name: string): CliConfig {
  const contexts = { ...config.contexts };
  delete contexts[name];
  return { contexts, current: config.current === name ? null : config.current };
}

function unknownContext(config: CliConfig, name: string): string {
  const known = Object.keys(config.contexts);
  return `no context "${name}"; ${known.length === 0 ? 'none yet: run rampart login --api URL' : `known: ${known.join(', ')}`}`;
}

function checkedUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`--api: expected a URL such as http://127.0.0.1:8000, got "${text}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`--api: expected an http:// or https:// URL, got "${text}"`);
  return text.replace(/\/+$/, '');
}

/** --token-stdin, else --token or RAMPART_TOKEN, else a prompt without echo on a terminal. */
async function tokenFor(fromStdin: boolean, flag: string | undefined): Promise<string> {
  const token = fromStdin
    ? await readStdin()
    : (flag ?? process.env['RAMPART_TOKEN'] ?? (process.stdin.isTTY ? await promptHidden('Token: ') : ''));
  const trimmed = token.trim();
  if (trimmed === '')
    throw new Error('no token: pipe it to --token-stdin, set RAMPART_TOKEN, or run rampart login on a terminal to be asked');
  return trimmed;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function promptHidden(question: string): Promise<string> {
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  process.stderr.write(question);
  // readline echoes what is typed through _writeToOutput; silencing it is how a password prompt is made without a dependency.
  (rl as unknown as { _writeToOutput: (text: string) => void })._writeToOutput = () => undefined;
  try {
    return await new Promise<string>((resolve) => rl.question('', resolve));
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

/**
 * One authenticated call: a refused token is an error here, not on the first real command. The API answers every
 * valid token 200 with who it is, so any other answer is a failed login (the caller saves nothing), with the API's
 * own message.
 */
async function whoami(api: string, token: string): Promise<Identity> {
  let body: unknown;
  try {
    body = await new ApiClient(api).request<unknown>('GET', '/v1/whoami', token);
  } catch (error) {
    if (error instanceof ApiHttpError) {
      const what = error.status === 401 ? 'refused this token' : 'did not log this token in';
      throw new ApiHttpError(error.method, error.path, error.status, `the API at ${api} ${what} (${error.message})`, error.body);
    }
    throw error;
  }
  if (!isIdentity(body)) throw new Error(`the API at ${api} did not say who this token is: is it a Rampart API?`);
  return body;
}

function isIdentity(body: unknown): body is Identity {
  if (body === null || typeof body !== 'object') return false;
  const b = body as Record<string, unknown>;
  return b['kind'] === 'platform' || (b['kind'] === 'tenant' && typeof b['tenantId'] === 'string' && typeof b['role'] === 'string');
}
