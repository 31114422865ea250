import { ApiClient } from '@rampart/api-client';
import type { Command } from 'commander';
import { EMPTY_CONFIG, configPath, readConfig } from './config/config-file.js';
import { resolveConnection, type Connection } from './config/connection.js';
import type { OutputFormat } from './output/format.js';

/** What an API command runs with: a client of the one API, the token, and how to print. */
export interface Session {
  readonly client: ApiClient;
  readonly token: string;
  readonly output: OutputFormat;
  readonly connection: Connection;
  /** `GET` as JSON (2xx or an ApiHttpError). */
  get<T>(path: string): Promise<T>;
  send<T>(method: string, path: string, body?: unknown): Promise<T>;
}

interface GlobalFlags {
  api?: string;
  token?: string;
  context?: string;
  output?: OutputFormat;
}

/** The config file is read only when it may be used: an API and a token given outright need none (scripts, CI). */
function needsConfig(flags: GlobalFlags, env: NodeJS.ProcessEnv): boolean {
  const given = (flag: string | undefined, name: string): boolean => (flag ?? env[name] ?? '') !== '';
  return !given(flags.api, 'RAMPART_API') || !given(flags.token, 'RAMPART_TOKEN') || given(flags.context, 'RAMPART_CONTEXT');
}

export async function sessionOf(command: Command): Promise<Session> {
  const flags = command.optsWithGlobals<GlobalFlags>();
  const connection = resolveConnection(flags, process.env, needsConfig(flags, process.env) ? await readConfig(configPath()) : EMPTY_CONFIG);
  const client = new ApiClient(connection.api);
  return {
    client,
    token: connection.token,
    output: flags.output ?? 'table',
    connection,
    get: <T>(path: string) => client.request<T>('GET', path, connection.token),
    send: <T>(method: string, path: string, body?: unknown) => client.request<T>(method, path, connection.token, body),
  };
}

/**
 * A commander action that needs the API: resolves the connection (flags > env
 * > context) first, then runs with the positional arguments and options.
 */
export function withSession<A extends unknown[]>(run: (session: Session, ...args: A) => Promise<void>) {
  return async (...params: unknown[]): Promise<void> => {
    const command = params[params.length - 1] as Command;
    await run(await sessionOf(command), ...(params.slice(0, -1) as A));
  };
}

/** A path segment from user input: always encoded, so `../images` can never walk the API's tree. */
export const seg = (value: string): string => encodeURIComponent(value);
