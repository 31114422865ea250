import type { CliConfig } from './config-file.js';

/** Where a command sends its calls, and why there (for messages). */
export interface Connection {
  readonly api: string;
  readonly token: string;
  /** The context it came from, if any. */
  readonly context: string | null;
}

export interface ConnectionFlags {
  readonly api?: string | undefined;
  readonly token?: string | undefined;
  readonly context?: string | undefined;
}

export class NotLoggedInError extends Error {
  override readonly name = 'NotLoggedInError';
}

/**
 * Flags beat the environment, which beats the current context (kubectl's
 * order). A context named by flag or env must exist; an API URL and a token
 * each come from the first place that has one.
 */
export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv, config: CliConfig): Connection {
  const contextName = flags.context ?? nonEmpty(env['RAMPART_CONTEXT']) ?? config.current ?? null;
  const named = flags.context !== undefined || nonEmpty(env['RAMPART_CONTEXT']) !== undefined;
  const context = contextName === null ? undefined : config.contexts[contextName];
  if (named && context === undefined) {
    const known = Object.keys(config.contexts);
    throw new NotLoggedInError(
      `no context "${contextName}"${known.length > 0 ? ` (known: ${known.join(', ')})` : ''}: run rampart login --api URL --name ${contextName}`,
    );
  }
  const api = flags.api ?? nonEmpty(env['RAMPART_API']) ?? context?.api;
  const token = flags.token ?? nonEmpty(env['RAMPART_TOKEN']) ?? context?.token;
  if (api === undefined || token === undefined)
    throw new NotLoggedInError(
      `not logged in${api === undefined ? '' : ` to ${api}`}: run rampart login --api URL (or pass --api and --token, or set RAMPART_API and RAMPART_TOKEN)`,
    );
  return { api: api.replace(/\/+$/, ''), token, context: context === undefined ? null : contextName };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** The API alone, for public routes (a trust bundle): the same precedence, no token needed. */
export function resolveApi(flags: ConnectionFlags, env: NodeJS.ProcessEnv, config: CliConfig): string {
  try {
    return resolveConnection(flags, env, config).api;
  } catch (error) {
    const contextName = flags.context ?? nonEmpty(env['RAMPART_CONTEXT']) ?? config.current;
    const api = flags.api ?? nonEmpty(env['RAMPART_API']) ?? (contextName === null ? undefined : config.contexts[contextName]?.api);
    if (api === undefined || !(error instanceof NotLoggedInError) || error.message.startsWith('no context')) throw error;
    return api.replace(/\/+$/, '');
  }
}
