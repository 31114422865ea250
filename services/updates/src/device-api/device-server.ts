import { X509Certificate, constants } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Counter, Meter } from '@opentelemetry/api';
import { z } from 'zod';
import type { Logger } from '@rampart/service-kit';
import {
  DEVICE_TLS_SERVER_OPTIONS,
  PeerIdentityError,
  deviceIdFromVerifiedCertificate,
  tenantOfOperationalCertificate,
} from '@rampart/trust';
import type { ImagesRepository } from '../images/images.repository.js';
import type { TenantMetadata } from '../tuf/tenant-metadata.js';
import type { DirectorService } from '../fleet/director.service.js';
import { StreamSlots, type ReleaseSlot } from './stream-slots.js';

export interface DeviceServerOptions {
  readonly host: string;
  readonly port: number;
  readonly certificatePem: string;
  readonly keyPem: string;
  /** Operational certificates chain to this root (through their tenant's CA); nothing else gets a handshake. */
  readonly platformCaPem: string;
  /** How old an operational certificate may be and still count as a fresh attestation. */
  readonly freshAttestationMs: number;
  /** Image transfers served at once; more wait their turn (see StreamSlots). */
  readonly imageStreams: number;
}

interface DevicePeer {
  readonly deviceId: string;
  readonly tenantId: string;
}

class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_REPORT_BYTES = 4 * 1024;

const DeploymentReportSchema = z.discriminatedUnion('state', [
  z.object({ deploymentId: z.uuid(), state: z.enum(['installed', 'failed']), detail: z.string().max(500).default('') }).strict(),
  /** Put off for a while (at most a day after the first offer). */
  z
    .object({
      deploymentId: z.uuid(),
      state: z.literal('deferred'),
      minutes: z.number().int().min(1).max(1440),
      detail: z.string().max(500).default(''),
    })
    .strict(),
]);

const IMAGE_PATH = /^\/v1\/images\/([0-9a-f]{64})$/;
const METADATA_PATH = /^\/v1\/metadata\/([0-9a-z.]{1,40})$/;

/**
 * What devices fetch over HTTPS with their operational certificate (mutual
 * TLS, TLS 1.2 minimum): the tenant's TUF metadata, the director's targets
 * for the device itself, and image bytes — resumable with `Range`, served
 * chunk by chunk from PostgreSQL. The device and tenant are the ones the
 * certificate proves; a device gets only its own tenant's images. Every
 * refusal is logged and counted.
 */
export class DeviceServer {
  private server: Server | undefined;
  /** Each connection's device, once its certificate chain is checked. */
  private readonly proven = new WeakMap<TLSSocket, DevicePeer & { readonly issuedAt: number }>();
  private readonly platformRoots: X509Certificate[];
  private readonly refusals: Counter;
  private readonly served: Counter;
  private readonly slots: StreamSlots;

  constructor(
    private readonly options: DeviceServerOptions,
    private readonly metadata: TenantMetadata,
    private readonly director: DirectorService,
    private readonly images: ImagesRepository,
    private readonly revocations: { isRevoked(deviceId: string): boolean },
    private readonly logger: Logger,
    meter: Meter,
  ) {
    this.platformRoots = [new X509Certificate(options.platformCaPem)];
    this.refusals = meter.createCounter('rampart_updates_device_refusals_total', {
      description: 'Device update requests refused, by reason',
    });
    this.served = meter.createCounter('rampart_updates_image_bytes_served_total', { description: 'Image bytes sent to devices' });
    this.slots = new StreamSlots(options.imageStreams);
    meter
      .createObservableGauge('rampart_updates_image_streams', {
        description: 'Image transfers to devices: being sent, and waiting their turn',
      })
      .addCallback((result) => {
        result.observe(this.slots.inUse, { state: 'sending' });
        result.observe(this.slots.queued, { state: 'waiting' });
      });
  }

  async start(): Promise<number> {
    const server = createServer(
      {
        cert: this.options.certificatePem,
        key: this.options.keyPem,
        ca: this.options.platformCaPem,
        requestCert: true,
        rejectUnauthorized: true,
        // TLS 1.2+ with ECDHE and AEAD suites only (Node's defaults still offer CBC and SHA-1).
        ...DEVICE_TLS_SERVER_OPTIONS,
        // No session resumption: a resumed session carries no certificate chain, and the tenant is proven by the chain.
        secureOptions: constants.SSL_OP_NO_TICKET,
      },
      (req, res) => void this.handle(req, res),
    );
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Who is asking: proven once per connection (a device keeps its
   * connection for a whole check), while revocation and freshness are
   * looked at on every request.
   */
  private peer(req: IncomingMessage): DevicePeer {
    const socket = req.socket as TLSSocket;
    let proven = this.proven.get(socket);
    if (proven === undefined) {
      proven = this.prove(socket);
      this.proven.set(socket, proven);
    }
    // A certificate outlives a revocation by up to a day: the deny-list closes that gap.
    if (this.revocations.isRevoked(proven.deviceId)) throw new Refusal(403, 'REVOKED', 'this device is revoked');
    if (Date.now() - proven.issuedAt > this.options.freshAttestationMs) {
      throw new Refusal(403, 'STALE_ATTESTATION', 'the operational certificate is older than a fresh attestation may be');
    }
    return proven;
  }

  private prove(socket: TLSSocket): DevicePeer & { readonly issuedAt: number } {
    const certificate = socket.getPeerX509Certificate();
    try {
      const deviceId = deviceIdFromVerifiedCertificate(certificate);
      const tenantId = tenantOfOperationalCertificate(certificate!, certificate!.issuerCertificate, this.platformRoots);
      return { deviceId, tenantId, issuedAt: new Date(certificate!.validFrom).getTime() };
    } catch (error) {
      const reason = error instanceof PeerIdentityError ? error.reason : 'invalid';
      throw new Refusal(403, reason.toUpperCase(), (error as Error).message);
    }
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const peer = this.peer(req);
      const url = new URL(req.url ?? '/', 'https://updates');
      const path = url.pathname;
      if (path === '/v1/reports' && req.method === 'POST') {
        await this.receiveReport(peer, req, res);
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new Refusal(405, 'METHOD', 'devices only read, and report on /v1/reports');
      const metadataName = METADATA_PATH.exec(path)?.[1];
      if (metadataName !== undefined) {
        const body =
          metadataName === 'director.json'
            ? await this.director.targetsFor(peer.tenantId, peer.deviceId, hardwareOf(url))
            : await this.metadata.file(peer.tenantId, metadataName);
        if (body === undefined) throw new Refusal(404, 'NOT_FOUND', `no ${metadataName}`);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      const sha256 = IMAGE_PATH.exec(path)?.[1];
      if (sha256 !== undefined) {
        await this.sendImage(peer, sha256, req, res);
        return;
      }
      throw new Refusal(404, 'NOT_FOUND', 'no such resource');
    } catch (error) {
      const refusal = error instanceof Refusal ? error : new Refusal(500, 'INTERNAL', 'internal error');
      if (!(error instanceof Refusal)) this.logger.error({ err: error, url: req.url }, 'device request failed');
      else if (refusal.status !== 404)
        this.logger.warn({ url: req.url, code: refusal.code, err: refusal.message }, 'device request refused');
      this.refusals.add(1, { code: refusal.code });
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(refusal.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: refusal.code, message: refusal.message }));
    }
  }

  /** A device says how a deployment went for it: `{ deploymentId, state: installed | failed | deferred, detail, minutes? }`. */
  private async receiveReport(peer: DevicePeer, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_REPORT_BYTES) throw new Refusal(413, 'TOO_LARGE', `a report is at most ${MAX_REPORT_BYTES} bytes`);
      chunks.push(chunk);
    }
    let parsed;
    try {
      parsed = DeploymentReportSchema.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    } catch (error) {
      throw new Refusal(400, 'MALFORMED', `not a deployment report: ${(error as Error).message.slice(0, 200)}`);
    }
    const known = await this.director.report(peer.tenantId, peer.deviceId, parsed.deploymentId, parsed);
    if (!known) throw new Refusal(404, 'NOT_FOUND', 'this device was not directed to that deployment');
    res.writeHead(204);
    res.end();
  }

  /** Whole or one `bytes=a-b` range; only a released image of the device's own tenant. */
  private async sendImage(peer: DevicePeer, sha256: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const image = await this.images.find(peer.tenantId, sha256);
    // Another tenant's image answers exactly like one that does not exist.
    if (image?.status !== 'released') throw new Refusal(404, 'NOT_FOUND', 'no such image');
    let start = 0;
    let end = image.size - 1;
    const range = req.headers.range;
    if (range !== undefined) {
      const match = /^bytes=(\d{1,15})-(\d{0,15})$/.exec(range);
      if (match === null) throw new Refusal(416, 'RANGE', 'one range, bytes=start-[end]');
      start = Number(match[1]);
      end = match[2] === '' ? image.size - 1 : Math.min(Number(match[2]), image.size - 1);
      if (start > end) {
        res.writeHead(416, { 'content-range': `bytes */${image.size}` });
        res.end();
        return;
      }
    }
    const headers = {
      'content-type': 'application/octet-stream',
      'content-length': end - start + 1,
      'accept-ranges': 'bytes',
      ...(range === undefined ? {} : { 'content-range': `bytes ${start}-${end}/${image.size}` }),
    };
    const status = range === undefined ? 200 : 206;
    if (req.method === 'HEAD') {
      res.writeHead(status, headers);
      res.end();
      return;
    }
    const gone = new AbortController();
    const leave = () => gone.abort(new Error('the device went away'));
    res.once('close', leave);
    let release: ReleaseSlot;
    try {
      release = await this.slots.acquire(gone.signal);
    } catch {
      return; // gone while waiting for its turn
    }
    try {
      res.writeHead(status, headers);
      for await (const chunk of this.images.readRange(sha256, start, end)) {
        if (res.destroyed) return; // the device went away; it resumes with a Range later
        this.served.add(chunk.length);
        if (!res.write(chunk)) {
          await new Promise<void>((resolve) => {
            res.once('drain', resolve);
            res.once('close', resolve);
          });
        }
      }
      res.end();
    } finally {
      release();
      res.off('close', leave);
    }
  }
}

const HARDWARE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The hardware a device says it is (`?hardware=`), if it reads as a hardware id; anything else is ignored. */
function hardwareOf(url: URL): string | undefined {
  const hardware = url.searchParams.get('hardware');
  return hardware !== null && HARDWARE.test(hardware) ? hardware : undefined;
}
