import { createHash, type Hash } from 'node:crypto';
import { Agent, request, type RequestOptions } from 'node:https';
import type { SecureContext } from 'node:tls';
import { TooManyBytesError, type DirectedTarget, type MetadataFetch } from '@rampart/trust';

export interface UpdateServer {
  readonly host: string;
  readonly port: number;
  readonly servername?: string;
}

export interface UpdateClientOptions {
  /** A request that has not finished by then is abandoned (slow retrieval). */
  readonly requestDeadlineMs: number;
  /** Times a download resumes (with Range) after a broken transfer before it gives up. */
  readonly resumeAttempts: number;
}

export const DEFAULT_UPDATE_CLIENT_OPTIONS: UpdateClientOptions = { requestDeadlineMs: 30_000, resumeAttempts: 5 };

/** Where a client finds metadata and images: the attested device's paths, or the recovery path (on the IDevID). */
export interface UpdatePaths {
  readonly metadata: string;
  readonly images: string;
}

export const DEVICE_PATHS: UpdatePaths = { metadata: '/v1/metadata', images: '/v1/images' };
export const RECOVERY_PATHS: UpdatePaths = { metadata: '/v1/recovery/metadata', images: '/v1/recovery/images' };

const MAX_ERROR_BODY_BYTES = 4096;

export class DownloadError extends Error {
  override readonly name = 'DownloadError';
  constructor(
    readonly reason: 'slow-retrieval' | 'endless-data' | 'hash-mismatch' | 'refused' | 'broken',
    message: string,
  ) {
    super(message);
  }
}

interface Response {
  readonly status: number;
  readonly body: Buffer;
}

/**
 * A device's HTTPS client for the update server, on its operational
 * certificate (or, on the recovery paths, its IDevID): metadata (for `UpdateMetadataClient`), image downloads that
 * resume with `Range` after a broken transfer, never read past the length
 * the signed targets declare, hash every byte and give up at a deadline;
 * and the device's report on a deployment.
 */
export class UpdateClient {
  /** One kept-alive TLS connection per credential: a check is several requests, and a handshake costs more than any of them. */
  private connection: { context: SecureContext; agent: Agent } | undefined;

  constructor(
    private readonly server: UpdateServer,
    private readonly secureContext: () => SecureContext,
    private readonly options: UpdateClientOptions = DEFAULT_UPDATE_CLIENT_OPTIONS,
    private readonly paths: UpdatePaths = DEVICE_PATHS,
  ) {}

  readonly metadata: MetadataFetch = async (name, maxBytes) => {
    const response = await this.send('GET', `${this.paths.metadata}/${name}`, { maxBytes, onChunk: undefined });
    if (response.status === 404) return undefined;
    if (response.status !== 200)
      throw new DownloadError('refused', `${name}: HTTP ${response.status} ${response.body.toString('utf8').slice(0, 200)}`);
    return response.body;
  };

  /** The image a target names, checked against its length and SHA-256 as it arrives. */
  async download(target: DirectedTarget): Promise<Buffer> {
    const parts: Buffer[] = [];
    let received = 0;
    const hash: Hash = createHash('sha256');
    for (let attempt = 0; ; attempt++) {
      try {
        const range = received === 0 ? undefined : `bytes=${received}-`;
        const response = await this.send('GET', `${this.paths.images}/${target.sha256}`, {
          maxBytes: target.length - received,
          range,
          onChunk: (chunk) => {
            parts.push(chunk);
            hash.update(chunk);
            received += chunk.length;
          },
        });
        if (response.status !== 200 && response.status !== 206) {
          throw new DownloadError('refused', `image: HTTP ${response.status} ${response.body.toString('utf8').slice(0, 200)}`);
        }
        break;
      } catch (error) {
        if (error instanceof TooManyBytesError)
          throw new DownloadError('endless-data', `more than the ${target.length} bytes the targets declare`);
        if (error instanceof DownloadError && error.reason !== 'broken') throw error;
        if (attempt >= this.options.resumeAttempts) throw error;
      }
    }
    if (received !== target.length) throw new DownloadError('hash-mismatch', `${received} bytes, the targets declare ${target.length}`);
    if (hash.digest('hex') !== target.sha256) throw new DownloadError('hash-mismatch', 'the image does not match its SHA-256');
    return Buffer.concat(parts, received);
  }

  /** How a deployment went here; `deferred` puts it off for `minutes` (the server holds it to a day after the first offer). */
  async report(deploymentId: string, state: 'installed' | 'failed' | 'deferred', detail: string, minutes?: number): Promise<void> {
    const response = await this.send('POST', '/v1/reports', {
      maxBytes: 4096,
      body: Buffer.from(
        JSON.stringify({ deploymentId, state, detail: detail.slice(0, 500), ...(state === 'deferred' ? { minutes: minutes ?? 60 } : {}) }),
      ),
      onChunk: undefined,
    });
    if (response.status !== 204) throw new DownloadError('refused', `report: HTTP ${response.status}`);
  }

  /** The kept-alive agent for this credential; a new credential (a renewed certificate) gets a new connection. */
  private agentFor(context: SecureContext): Agent {
    if (this.connection?.context !== context) {
      this.connection?.agent.destroy();
      // Kept alive, never resumed: the server proves the tenant from the full certificate chain of each handshake.
      this.connection = { context, agent: new Agent({ keepAlive: true, maxSockets: 1, maxCachedSessions: 0 }) };
    }
    return this.connection.agent;
  }

  /** Closes the kept-alive connection (the device goes offline or reboots). */
  close(): void {
    this.connection?.agent.destroy();
    this.connection = undefined;
  }

  /**
   * One request. Bodies go to `onChunk` as they arrive (or are collected);
   * more than `maxBytes` aborts at once (`TooManyBytesError`); so does the
   * deadline (`slow-retrieval`). A broken connection is `broken` (resumable).
   */
  private send(
    method: 'GET' | 'POST',
    path: string,
    options: { maxBytes: number; range?: string | undefined; body?: Buffer; onChunk: ((chunk: Buffer) => void) | undefined },
  ): Promise<Response> {
    const context = this.secureContext();
    return new Promise<Response>((resolve, reject) => {
      const collected: Buffer[] = [];
      let size = 0;
      let settled = false;
      const finish = (error: Error | undefined, response?: Response) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error === undefined) resolve(response!);
        else {
          req.destroy();
          reject(error);
        }
      };
      const req = request(
        {
          host: this.server.host,
          port: this.server.port,
          servername: this.server.servername ?? 'localhost',
          secureContext: context,
          rejectUnauthorized: true,
          method,
          path,
          agent: this.agentFor(context),
          headers: {
            ...(options.range === undefined ? {} : { range: options.range }),
            ...(options.body === undefined ? {} : { 'content-type': 'application/json', 'content-length': options.body.length }),
          },
          // Node's https accepts a TLS secure context (the device's key and certificate); its types do not list it.
        } as RequestOptions,
        (res) => {
          const status = res.statusCode ?? 0;
          const ok = status === 200 || status === 206;
          const streaming = options.onChunk !== undefined && ok;
          // What is asked for is bounded by what the caller expects; an error answer by a small fixed bound.
          const limit = ok ? options.maxBytes : MAX_ERROR_BODY_BYTES;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > limit) {
              finish(
                ok ? new TooManyBytesError(path, limit) : new DownloadError('refused', `${path}: HTTP ${status} with an oversized body`),
              );
              return;
            }
            if (streaming) options.onChunk!(chunk);
            else collected.push(chunk);
          });
          res.on('end', () => finish(undefined, { status, body: Buffer.concat(collected) }));
          res.on('aborted', () => finish(new DownloadError('broken', `${path}: the transfer broke`)));
          res.on('error', (error) => finish(new DownloadError('broken', `${path}: ${error.message}`)));
        },
      );
      const timer = setTimeout(
        () => finish(new DownloadError('slow-retrieval', `${path}: not done within ${this.options.requestDeadlineMs} ms`)),
        this.options.requestDeadlineMs,
      );
      req.on('error', (error) => finish(new DownloadError('broken', `${path}: ${error.message}`)));
      req.end(options.body);
    });
  }
}
