import { X509Certificate, constants } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Counter, Meter } from '@opentelemetry/api';
import { z } from 'zod';
import { ErrorCode, httpStatusOf, storableText, type ErrorCodeValue } from '@rampart/contracts';
import { DomainError, type Logger } from '@rampart/service-kit';
import {
  DEVICE_TLS_SERVER_OPTIONS,
  PeerIdentityError,
  deviceIdFromVerifiedCertificate,
  tenantOfOperationalCertificate,
} from '@rampart/trust';
import type { ImagesRepository } from '../images/images.repository.js';
import type { TenantMetadata } from '../tuf/tenant-metadata.js';
import type { DirectorService } from '../fleet/director.service.js';
import type { ImageRow } from '../images/images.repository.js';
import type { RecoveryGrant, RecoveryService } from './recovery.js';
import { StreamSlots, type ReleaseSlot } from './stream-slots.js';

export interface DeviceServerOptions {
  readonly host: string;
  readonly port: number;
  readonly certificatePem: string;
  readonly keyPem: string;
  /** Operational certificates chain to this root (through their tenant's CA). */
  readonly platformCaPem: string;
  /**
   * Manufacturer roots (PEM) whose IDevIDs may use the recovery path, and nothing else; none turns the path
   * off. With neither root behind a certificate, there is no handshake.
   */
  readonly manufacturerRootsPem?: readonly string[];
  /** How old an operational certificate may be and still count as a fresh attestation. */
  readonly freshAttestationMs: number;
  /** Image transfers served at once; more wait their turn (see StreamSlots). */
  readonly imageStreams: number;
}

interface DevicePeer {
  readonly deviceId: string;
  readonly tenantId: string;
}

/** Who a connection proved to be: an attested device (operational certificate) or a device on its IDevID alone. */
type ProvenPeer =
  | (DevicePeer & { readonly credential: 'operational'; readonly issuedAt: number })
  | { readonly credential: 'identity'; readonly deviceId: string };

/** A grant is asked for again after this long on one connection, so a withdrawn grant stops a kept-alive recovery. */
const RECOVERY_GRANT_RECHECK_MS = 5_000;

/** A client certificate's refusal, by why it is not a device's. */
const CERTIFICATE_REFUSALS: Readonly<Record<PeerIdentityError['reason'], ErrorCodeValue>> = {
  no_certificate: ErrorCode.noCertificate,
  not_client_auth: ErrorCode.notClientAuth,
  subject_mismatch: ErrorCode.subjectMismatch,
  wrong_tenant: ErrorCode.wrongTenant,
};

/** A device request refused; its HTTP status comes from the contracts' error table by its code. */
class Refusal extends Error {
  constructor(
    readonly code: ErrorCodeValue,
    message: string,
  ) {
    super(message);
  }

  get status(): number {
    return httpStatusOf(this.code);
  }
}

const MAX_REPORT_BYTES = 4 * 1024;

const DeploymentReportSchema = z.discriminatedUnion('state', [
  z.object({ deploymentId: z.uuid(), state: z.enum(['installed', 'failed']), detail: storableText({ max: 500 }).default('') }).strict(),
  /** Put off for a while (at most a day after the first offer). */
  z
    .object({
      deploymentId: z.uuid(),
      state: z.literal('deferred'),
      minutes: z.number().int().min(1).max(1440),
      detail: storableText({ max: 500 }).default(''),
    })
    .strict(),
]);

const IMAGE_PATH = /^\/v1\/images\/([0-9a-f]{64})$/;
const METADATA_PATH = /^\/v1\/metadata\/([0-9a-z.]{1,40})$/;
const RECOVERY_IMAGE_PATH = /^\/v1\/recovery\/images\/([0-9a-f]{64})$/;
const RECOVERY_METADATA_PATH = /^\/v1\/recovery\/metadata\/([0-9a-z.]{1,40})$/;

/**
 * What devices fetch over HTTPS with their operational certificate (mutual
 * TLS, TLS 1.2 minimum): the tenant's TUF metadata, the director's targets
 * for the device itself, and image bytes — resumable with `Range`, served
 * chunk by chunk from PostgreSQL. The device and tenant are the ones the
 * certificate proves; a device gets only its own tenant's images. Every
 * refusal is logged and counted.
 *
 * A device refused attestation holds only its IDevID; with it, it reaches
 * the recovery path (`/v1/recovery/…`) and nothing else, and only while the
 * attestation service grants it recovery (see RecoveryService).
 */
export class DeviceServer {
  private server: Server | undefined;
  /** Each connection's device, once its certificate chain is checked. */
  private readonly proven = new WeakMap<TLSSocket, ProvenPeer>();
  /** Each recovering connection's grant, and when it was asked for. */
  private readonly grants = new WeakMap<TLSSocket, { readonly grant: RecoveryGrant | undefined; readonly at: number }>();
  private readonly platformRoots: X509Certificate[];
  private readonly manufacturerRoots: X509Certificate[];
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
    private readonly recovery?: RecoveryService,
  ) {
    this.platformRoots = [new X509Certificate(options.platformCaPem)];
    this.manufacturerRoots = recovery === undefined ? [] : (options.manufacturerRootsPem ?? []).map((pem) => new X509Certificate(pem));
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
        ca: [this.options.platformCaPem, ...this.manufacturerRoots.map((root) => root.toString())],
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
  private peer(req: IncomingMessage): ProvenPeer {
    const socket = req.socket as TLSSocket;
    let proven = this.proven.get(socket);
    if (proven === undefined) {
      proven = this.prove(socket);
      this.proven.set(socket, proven);
    }
    // A certificate outlives a revocation by up to a day: the deny-list closes that gap.
    if (this.revocations.isRevoked(proven.deviceId)) throw new Refusal(ErrorCode.revoked, 'this device is revoked');
    if (proven.credential === 'operational' && Date.now() - proven.issuedAt > this.options.freshAttestationMs) {
      throw new Refusal(ErrorCode.staleAttestation, 'the operational certificate is older than a fresh attestation may be');
    }
    return proven;
  }

  private prove(socket: TLSSocket): ProvenPeer {
    const certificate = socket.getPeerX509Certificate();
    try {
      const deviceId = deviceIdFromVerifiedCertificate(certificate);
      // TLS verified the chain to one of the trusted roots; which one decides what the connection may do.
      if (this.chainsToManufacturer(certificate!)) return { credential: 'identity', deviceId };
      const tenantId = tenantOfOperationalCertificate(certificate!, certificate!.issuerCertificate, this.platformRoots);
      return { credential: 'operational', deviceId, tenantId, issuedAt: new Date(certificate!.validFrom).getTime() };
    } catch (error) {
      const code = error instanceof PeerIdentityError ? CERTIFICATE_REFUSALS[error.reason] : ErrorCode.invalidCertificate;
      throw new Refusal(code, (error as Error).message);
    }
  }

  /** The verified chain ends at a manufacturer root (each link signed by the next, the last one that root). */
  private chainsToManufacturer(leaf: X509Certificate): boolean {
    if (this.manufacturerRoots.length === 0) return false;
    let child = leaf;
    for (let depth = 0; depth < 4; depth++) {
      const root = this.manufacturerRoots.find((r) => child.checkIssued(r) && child.verify(r.publicKey));
      if (root !== undefined) return true;
      const issuer = child.issuerCertificate;
      if (issuer === undefined || issuer.fingerprint256 === child.fingerprint256 || !child.verify(issuer.publicKey)) return false;
      child = issuer;
    }
    return false;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let credential: ProvenPeer['credential'] | 'unproven' = 'unproven';
    let deviceId: string | undefined;
    try {
      const proven = this.peer(req);
      credential = proven.credential;
      deviceId = proven.deviceId;
      const url = new URL(req.url ?? '/', 'https://updates');
      const path = url.pathname;
      if (proven.credential === 'identity') {
        await this.handleRecovery(proven.deviceId, req, res, url);
        return;
      }
      const peer: DevicePeer = proven;
      if (path === '/v1/reports' && req.method === 'POST') {
        await this.receiveReport(peer, req, res);
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD')
        throw new Refusal(ErrorCode.methodNotAllowed, 'devices only read, and report on /v1/reports');
      const metadataName = METADATA_PATH.exec(path)?.[1];
      if (metadataName !== undefined) {
        // Made with the tenant (TenantRepositoryConsumer); this covers an announcement lost before it reached the stream.
        await this.metadata.ensure(peer.tenantId);
        const body =
          metadataName === 'director.json'
            ? await this.director.targetsFor(peer.tenantId, peer.deviceId, hardwareOf(url))
            : await this.metadata.file(peer.tenantId, metadataName);
        if (body === undefined) throw new Refusal(ErrorCode.notFound, `no ${metadataName}`);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      const sha256 = IMAGE_PATH.exec(path)?.[1];
      if (sha256 !== undefined) {
        const image = await this.images.find(peer.tenantId, sha256);
        // Another tenant's image answers exactly like one that does not exist.
        if (image?.status !== 'released') throw new Refusal(ErrorCode.notFound, 'no such image');
        await this.sendImage(image, req, res);
        return;
      }
      throw new Refusal(ErrorCode.notFound, 'no such resource');
    } catch (error) {
      // A domain error (no root imported yet, a signing key unavailable) keeps its code: the device learns why, and may retry.
      const refusal =
        error instanceof Refusal
          ? error
          : error instanceof DomainError
            ? new Refusal(error.code, error.message)
            : new Refusal(ErrorCode.internal, 'internal error');
      if (!(error instanceof Refusal)) this.logger.error({ err: error, url: req.url, deviceId }, 'device request failed');
      else if (refusal.status !== 404 || credential === 'identity')
        this.logger.warn({ url: req.url, deviceId, credential, code: refusal.code, err: refusal.message }, 'device request refused');
      this.refusals.add(1, { code: refusal.code, credential });
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.writeHead(refusal.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: refusal.code, message: refusal.message }));
    }
  }

  /**
   * A device on its IDevID: the recovery metadata and the recovery OS, while the attestation service grants
   * it recovery; every other path, and every other method, is refused.
   */
  private async handleRecovery(deviceId: string, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const recovery = this.recovery!;
    const metadataName = RECOVERY_METADATA_PATH.exec(url.pathname)?.[1];
    const sha256 = RECOVERY_IMAGE_PATH.exec(url.pathname)?.[1];
    if ((metadataName === undefined && sha256 === undefined) || (req.method !== 'GET' && req.method !== 'HEAD')) {
      throw new Refusal(ErrorCode.recoveryOnly, 'an identity certificate reaches only the recovery path: GET /v1/recovery/metadata|images');
    }
    const grant = await this.grantOf(req.socket as TLSSocket, deviceId);
    if (grant === undefined) throw new Refusal(ErrorCode.notRecoverable, 'this device has no recovery grant: it must attest');
    if (metadataName !== undefined) {
      const body =
        metadataName === 'director.json'
          ? await recovery.director(grant, deviceId, hardwareOf(url))
          : await recovery.metadataFile(grant, metadataName);
      if (body === undefined) throw new Refusal(ErrorCode.notFound, `no ${metadataName}`);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const image = await recovery.image(grant, sha256!);
    // Anything but a recovery OS — an app, an older OS, another tenant's image — answers like one that does not exist.
    if (image === undefined) throw new Refusal(ErrorCode.notFound, 'no such recovery image');
    await this.sendImage(image, req, res);
  }

  /** The connection's recovery grant, asked for again every few seconds (a kept-alive connection outlives a withdrawal). */
  private async grantOf(socket: TLSSocket, deviceId: string): Promise<RecoveryGrant | undefined> {
    const cached = this.grants.get(socket);
    if (cached !== undefined && Date.now() - cached.at < RECOVERY_GRANT_RECHECK_MS) return cached.grant;
    let grant: RecoveryGrant | undefined;
    try {
      grant = await this.recovery!.grant(deviceId);
    } catch (error) {
      this.logger.warn({ err: error, deviceId }, 'recovery grant not answered');
      throw new Refusal(ErrorCode.unavailable, 'recovery cannot be decided right now; try again');
    }
    this.grants.set(socket, { grant, at: Date.now() });
    return grant;
  }

  /** A device says how a deployment went for it: `{ deploymentId, state: installed | failed | deferred, detail, minutes? }`. */
  private async receiveReport(peer: DevicePeer, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_REPORT_BYTES) throw new Refusal(ErrorCode.payloadTooLarge, `a report is at most ${MAX_REPORT_BYTES} bytes`);
      chunks.push(chunk);
    }
    let parsed;
    try {
      parsed = DeploymentReportSchema.parse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    } catch (error) {
      throw new Refusal(ErrorCode.malformed, `not a deployment report: ${(error as Error).message.slice(0, 200)}`);
    }
    const known = await this.director.report(peer.tenantId, peer.deviceId, parsed.deploymentId, parsed);
    if (!known) throw new Refusal(ErrorCode.notFound, 'this device was not directed to that deployment');
    res.writeHead(204);
    res.end();
  }

  /** Whole or one `bytes=a-b` range of an image the caller has decided this device may have. */
  private async sendImage(image: ImageRow, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sha256 = image.sha256;
    let start = 0;
    let end = image.size - 1;
    const range = req.headers.range;
    if (range !== undefined) {
      const match = /^bytes=(\d{1,15})-(\d{0,15})$/.exec(range);
      if (match === null) throw new Refusal(ErrorCode.rangeNotSatisfiable, 'one range, bytes=start-[end]');
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
