import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { Aedes, type AuthenticateError, type Client, type ConnectPacket, type PublishPacket, type Subscription } from 'aedes';
import {
  DenialReason,
  attestResponseTopic,
  isDeviceId,
  type AttestationResponse,
  type DenialReasonValue,
  type DeviceCredential,
  deviceCommandTopic,
  type DeviceCommand,
} from '@rampart/contracts';
import {
  DEVICE_TLS_SERVER_OPTIONS,
  PeerIdentityError,
  certificatesInPemBundle,
  deviceIdFromVerifiedCertificate,
  tenantOfOperationalCertificate,
} from '@rampart/trust';
import { TokenBucket, type Clock, type Logger } from '@rampart/service-kit';
import { guardSocket, PacketTooLargeError } from '../mqtt/packet-size-guard.js';
import { X509Certificate } from 'node:crypto';
import { Admission } from './admission.js';
import type { AttestationGate } from './attestation-gate.js';
import type { GatewayLimits } from './gateway.config.js';
import { authorizeDevicePublish, authorizeDeviceSubscribe } from './device-acl.js';
import type { GatewayMetrics } from './gateway-metrics.js';
import type { FailureBridge, FailureStreamKind } from './failure-bridge.js';
import type { TelemetryBridge } from './telemetry-bridge.js';
import { connectionCapWithin, processOpenFileLimit } from './descriptor-budget.js';
import { SocketFront, type DoorRefusal } from './socket-front.js';
import { tlsRefusal } from './tls-refusal.js';

/** Aedes routes this many messages concurrently; our admission bounds what reaches it. */
const AEDES_CONCURRENCY = 1_000;
const SHED_LOG_INTERVAL_MS = 10_000;
/** TLS refusals logged one by one in each SHED_LOG_INTERVAL_MS; the rest are counted and summarised. */
const TLS_REFUSALS_LOGGED_PER_INTERVAL = 20;

export interface MqttGatewayOptions {
  readonly mqtt: { readonly host: string; readonly port: number };
  readonly tls: {
    readonly certificatePem: string;
    readonly privateKeyPem: string;
    /** Roots of device identities (IDevID): a device on one of these may only attest. */
    readonly manufacturerCaPem: string;
    /** The platform root that tenant CAs, and so operational certificates (LDevID), chain to. */
    readonly platformCaPem: string;
    /** Tenants whose devices this gateway serves; undefined serves every tenant. */
    readonly allowedTenants?: readonly string[] | undefined;
  };
  readonly devListener: { readonly host: string; readonly port: number } | undefined;
  readonly limits: GatewayLimits;
}

/** What the gateway knows about a connection before MQTT starts. */
interface ConnectionInfo {
  /** Device id proven by the client certificate; undefined on the dev listener. */
  readonly certifiedId: string | undefined;
  readonly listener: 'tls' | 'dev';
  readonly credential: DeviceCredential;
  /** From the operational certificate; null on the manufacturer identity or the dev listener. */
  readonly tenantId: string | null;
  readonly remoteAddress: string;
  bucket?: TokenBucket;
}

class DenialError extends Error {
  constructor(
    readonly reason: DenialReasonValue,
    message: string,
  ) {
    super(message);
  }
}

function authError(reason: DenialReasonValue, message: string, returnCode: number): AuthenticateError {
  // AuthErrorCode is a const enum in Aedes's types; the numbers are MQTT's CONNACK codes [MQTT-3.2.2.3].
  // A DenialError, so that Aedes's clientError event for it is known as counted already.
  const error: AuthenticateError = Object.assign(new DenialError(reason, message), { returnCode: returnCode });
  return error;
}

/**
 * The MQTT front door: Aedes behind TLS with manufacturer-endorsed client
 * certificates, a per-device topic namespace, hostile-input limits and a
 * bridge from device telemetry to the telemetry stream.
 */
export class MqttGateway {
  private readonly connections = new WeakMap<object, ConnectionInfo>();
  private readonly admission: Admission;
  private aedes: Aedes | undefined;
  private front: SocketFront | undefined;
  private devServer: TcpServer | undefined;
  private readonly sockets = new Set<Socket>();
  /**
   * Sessions past CONNACK by device id, until their connection closes. Kept
   * here, not from Aedes's clientReady/clientDisconnect pair or its client
   * table: when a session taken over by a newer one of the same device
   * closes, Aedes emits clientDisconnect for it and removes the *newer* one
   * from its table — a count kept from its events drifted below zero, and a
   * revocation looking the device up there would miss it.
   */
  private readonly sessions = new Map<string, Client>();
  private shedSinceLog = 0;
  private readonly refusedAtDoorSinceLog: Record<DoorRefusal, number> = { connection_limit: 0, handshake_limit: 0 };
  /** TLS refusals past the first few of an interval, by reason: summarised, so a connect flood is not a log flood. */
  private tlsRefusedUnlogged: Record<string, number> = {};
  private tlsRefusalsLogged = 0;
  private shedTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: MqttGatewayOptions,
    private readonly bridge: TelemetryBridge,
    private readonly failures: FailureBridge,
    private readonly attestation: AttestationGate,
    private readonly revocations: { isRevoked(deviceId: string): boolean; start(): Promise<void>; stop(): Promise<void> },
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {
    this.admission = new Admission(options.limits.bridgeMaxInFlight, options.limits.bridgeMaxWaiting);
    this.manufacturerRoots = certificatesInPemBundle(options.tls.manufacturerCaPem).map((pem) => new X509Certificate(pem));
    this.platformRoots = certificatesInPemBundle(options.tls.platformCaPem).map((pem) => new X509Certificate(pem));
    this.allowedTenants = options.tls.allowedTenants === undefined ? undefined : new Set(options.tls.allowedTenants);
  }

  private readonly manufacturerRoots: readonly X509Certificate[];
  private readonly platformRoots: readonly X509Certificate[];
  private readonly allowedTenants: ReadonlySet<string> | undefined;

  /**
   * Sends a command to those of `deviceIds` connected here, on their own
   * commands topic (QoS 1); returns how many it reached.
   */
  sendCommand(deviceIds: readonly string[], command: DeviceCommand): number {
    const aedes = this.aedes;
    if (aedes === undefined) return 0;
    let sent = 0;
    for (const deviceId of deviceIds) {
      if (!this.sessions.has(deviceId)) continue;
      aedes.publish(
        { cmd: 'publish', topic: deviceCommandTopic(deviceId, command), payload: Buffer.from('{}'), qos: 1, retain: false, dup: false },
        () => undefined,
      );
      sent++;
    }
    return sent;
  }

  /** Closes a device's session at once (revocation). */
  disconnect(deviceId: string): void {
    const client = this.sessions.get(deviceId);
    if (client === undefined) return;
    this.metrics.denied(DenialReason.deviceRevoked);
    client.close();
  }

  get inFlight(): number {
    return this.admission.active;
  }

  get waiting(): number {
    return this.admission.queued;
  }

  /** Running tallies of connections, messages, denials and shed load. */
  get totals(): GatewayMetrics['totals'] {
    return this.metrics.totals;
  }

  get listening(): boolean {
    return this.front?.listening === true;
  }

  get connectedClients(): number {
    return this.sessions.size;
  }

  private readonly extraStarts: Array<() => Promise<void>> = [];
  private readonly extraStops: Array<() => Promise<void>> = [];

  /** Something to start with the gateway and stop with it (bus listeners that act on its clients). */
  onLifecycle(start: () => Promise<void>, stop: () => Promise<void>): void {
    this.extraStarts.push(start);
    this.extraStops.push(stop);
  }

  async start(): Promise<{ mqttPort: number; devPort: number | undefined }> {
    await this.bridge.start();
    for (const start of this.extraStarts) await start();
    await this.failures.start();
    await this.revocations.start();
    const aedes = await Aedes.createBroker({
      concurrency: AEDES_CONCURRENCY,
      connectTimeout: this.options.limits.connectTimeoutMs,
      // Device ids are 64 hex characters, longer than MQTT 3.1's 23.
      maxClientsIdLength: 64,
      maxTopicLevels: 8,
      queueLimit: 16,
      preConnect: (client, packet, callback) => this.preConnect(client, packet, callback),
      authenticate: (client, _username, _password, callback) => this.authenticate(client, callback),
      authorizePublish: (client, packet, callback) => this.authorizePublish(client, packet, callback),
      authorizeSubscribe: (client, subscription, callback) => this.authorizeSubscribe(client, subscription, callback),
      // Nothing a device sends is routed to another device; the check is kept
      // here too so a future topic cannot leak by accident.
      authorizeForward: (client, packet) => (packet.topic.startsWith(`devices/${client.id}/`) ? packet : null),
    });
    this.aedes = aedes;
    aedes.on('clientReady', (client) => {
      this.metrics.connectionAccepted();
      // Aedes may close a client during its asynchronous connect steps and still report it ready: its 'close' has
      // then fired already, and a session kept now would never be removed (and count against MAX_CONNECTIONS).
      const conn = client.conn as { destroyed?: boolean };
      if (client.closed || conn.destroyed === true) return;
      this.sessions.set(client.id, client);
      client.conn.once('close', () => {
        if (this.sessions.get(client.id) === client) this.sessions.delete(client.id);
      });
    });
    aedes.on('clientError', (client, error) => this.onClientError(client, error));
    aedes.on('connectionError', (client, error) => this.onClientError(client, error));

    const tlsServer = createTlsServer(
      {
        cert: this.options.tls.certificatePem,
        key: this.options.tls.privateKeyPem,
        // Both kinds of device certificate verify during the handshake; which one it is decides the ACL.
        ca: [...certificatesInPemBundle(this.options.tls.manufacturerCaPem), ...certificatesInPemBundle(this.options.tls.platformCaPem)],
        requestCert: true,
        rejectUnauthorized: true,
        // TLS 1.2+ with ECDHE and AEAD suites only (Node's defaults still offer CBC and SHA-1).
        ...DEVICE_TLS_SERVER_OPTIONS,
        handshakeTimeout: this.options.limits.connectTimeoutMs,
      },
      (socket) => this.acceptTls(socket),
    );
    tlsServer.on('tlsClientError', (error, socket) => this.onTlsClientError(error, socket));
    const openFileLimit = processOpenFileLimit();
    const maxConnections = connectionCapWithin(this.options.limits.maxConnections, openFileLimit);
    if (maxConnections < this.options.limits.maxConnections) {
      this.logger.warn(
        { configured: this.options.limits.maxConnections, openFileLimit, maxConnections },
        'MAX_CONNECTIONS is above what the open-file limit can hold; capped lower (raise ulimit -n to allow more)',
      );
    }
    this.front = new SocketFront(
      tlsServer,
      { maxConnections, maxHandshaking: Math.min(this.options.limits.maxHandshaking, maxConnections) },
      (reason) => this.refusedAtDoor(reason),
    );
    const mqttPort = await listen(this.front.server, this.options.mqtt.host, this.options.mqtt.port);
    this.logger.info({ host: this.options.mqtt.host, port: mqttPort }, 'MQTT over TLS listening (client certificates required)');

    let devPort: number | undefined;
    if (this.options.devListener !== undefined) {
      this.devServer = createTcpServer({ noDelay: true }, (socket) => this.acceptDev(socket));
      devPort = await listen(this.devServer, this.options.devListener.host, this.options.devListener.port);
      this.logger.warn(
        { host: this.options.devListener.host, port: devPort },
        'DEVELOPMENT LISTENER ON: plain TCP, client ids are taken on trust. Never enable this in production.',
      );
    }
    this.shedTimer = setInterval(() => this.logShed(), SHED_LOG_INTERVAL_MS);
    this.shedTimer.unref();
    return { mqttPort, devPort };
  }

  /**
   * A handshake that failed or never finished. Node leaves the socket open
   * once a 'tlsClientError' listener exists, so it is destroyed here: a
   * socket that stalls the handshake must not hold a file descriptor past
   * the timeout.
   */
  private onTlsClientError(error: Error & { code?: string }, socket: TLSSocket): void {
    socket.destroy();
    const { reason, detail } = tlsRefusal(error, socket.authorizationError);
    this.metrics.connectionRefused(reason);
    if (this.tlsRefusalsLogged < TLS_REFUSALS_LOGGED_PER_INTERVAL) {
      this.tlsRefusalsLogged++;
      this.logger.warn({ remote: socket.remoteAddress, reason, detail }, 'TLS handshake refused');
    } else {
      this.tlsRefusedUnlogged[reason] = (this.tlsRefusedUnlogged[reason] ?? 0) + 1;
    }
  }

  /** Counted at once; logged as a summary, since a flood of connects would otherwise be a flood of log lines. */
  private refusedAtDoor(reason: DoorRefusal): void {
    this.metrics.connectionRefused(DenialReason.overloaded);
    this.refusedAtDoorSinceLog[reason]++;
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private acceptTls(socket: TLSSocket): void {
    this.track(socket);
    let certifiedId: string;
    let credential: DeviceCredential;
    let tenantId: string | null = null;
    try {
      const certificate = socket.getPeerX509Certificate();
      certifiedId = deviceIdFromVerifiedCertificate(certificate);
      credential = this.manufacturerRoots.some((root) => certificate?.checkIssued(root) === true && certificate.verify(root.publicKey))
        ? 'identity'
        : 'operational';
      if (credential === 'operational' && certificate !== undefined) {
        tenantId = tenantOfOperationalCertificate(certificate, certificate.issuerCertificate, this.platformRoots);
        if (this.allowedTenants !== undefined && !this.allowedTenants.has(tenantId)) {
          throw new PeerIdentityError(`tenant ${tenantId} is not served by this gateway`, 'wrong_tenant');
        }
      }
    } catch (error) {
      const reason = error instanceof PeerIdentityError ? error.reason : 'invalid';
      this.metrics.connectionRefused(reason === 'wrong_tenant' ? DenialReason.wrongTenant : DenialReason.notAuthenticated);
      this.logger.warn({ remote: socket.remoteAddress, reason, err: (error as Error).message }, 'client certificate refused');
      socket.destroy();
      return;
    }
    this.logger.debug({ deviceId: certifiedId, credential, resumed: socket.isSessionReused() }, 'device certificate accepted');
    this.handle(socket, {
      certifiedId,
      listener: 'tls',
      credential,
      tenantId,
      remoteAddress: socket.remoteAddress ?? '',
    });
  }

  private acceptDev(socket: Socket): void {
    this.track(socket);
    // The development listener takes ids on trust and grants the operational namespace.
    this.handle(socket, {
      certifiedId: undefined,
      listener: 'dev',
      credential: 'operational',
      tenantId: null,
      remoteAddress: socket.remoteAddress ?? '',
    });
  }

  private handle(socket: Socket, info: ConnectionInfo): void {
    if (this.aedes === undefined) return;
    const stream = guardSocket(socket, this.options.limits.maxPacketBytes, (error) => {
      const reason = error instanceof PacketTooLargeError ? DenialReason.packetTooLarge : DenialReason.protocolError;
      this.metrics.denied(reason);
      this.logger.warn({ remote: info.remoteAddress, reason, err: error.message }, 'connection closed: packet refused');
    });
    this.connections.set(stream, info);
    this.aedes.handle(stream);
  }

  private info(client: Client): ConnectionInfo | undefined {
    return this.connections.get(client.conn);
  }

  /** Protocol version, connection count limit and the will message's ACL, before authentication. */
  private preConnect(client: Client, packet: ConnectPacket, callback: (error: Error | null, ok: boolean) => void): void {
    if (packet.protocolId !== 'MQTT' || packet.protocolVersion !== 4) {
      // MQTT 3.1.1 only (README, "Security notes"). Aedes itself accepts 3.1 ("MQIsdp", level 3) and answers any
      // level outside 3–4 with CONNACK 0x01 before closing, as [MQTT-3.1.2-2] requires; marking the level as one
      // it refuses sends MQTT 3.1 down that same path. Counted in onClientError, with MQTT 5's refusals.
      packet.protocolVersion = 0 as ConnectPacket['protocolVersion'];
      callback(null, true);
      return;
    }
    if (this.sessions.size >= this.options.limits.maxConnections) {
      this.metrics.connectionRefused(DenialReason.overloaded);
      callback(new DenialError(DenialReason.overloaded, 'connection limit reached'), false);
      return;
    }
    // A will is a publish the device arranges in advance; it obeys the same
    // ACL, checked now so a forbidden will never waits in the broker.
    const will = packet.will;
    if (will !== undefined && will !== null) {
      const decision = authorizeDevicePublish(packet.clientId, will.topic, this.info(client)?.credential ?? 'identity');
      if (!decision.allowed) {
        this.metrics.connectionRefused(decision.reason);
        this.logger.warn({ clientId: packet.clientId, topic: will.topic, reason: decision.reason }, 'will refused');
        callback(new DenialError(decision.reason, 'will topic not allowed'), false);
        return;
      }
    }
    callback(null, true);
  }

  /** The client id must be the device id its certificate proves [MQTT-3.1.3-2 leaves ids to the server]. */
  private authenticate(client: Client, callback: (error: AuthenticateError | null, ok: boolean | null) => void): void {
    const info = this.info(client);
    if (info === undefined) {
      callback(authError(DenialReason.notAuthenticated, 'unknown connection', 5), false);
      return;
    }
    if (info.listener === 'tls') {
      // A revoked device keeps only its manufacturer identity: it may attest (and be refused), nothing more.
      if (info.credential === 'operational' && this.revocations.isRevoked(client.id)) {
        this.metrics.connectionRefused(DenialReason.deviceRevoked);
        this.logger.warn({ deviceId: client.id }, 'revoked device refused');
        callback(authError(DenialReason.deviceRevoked, 'device revoked', 5), false);
        return;
      }
      if (client.id !== info.certifiedId) {
        this.metrics.connectionRefused(DenialReason.clientIdMismatch);
        this.logger.warn({ clientId: client.id, certified: info.certifiedId }, 'client id does not match certificate');
        callback(authError(DenialReason.clientIdMismatch, 'client id does not match the certificate', 2), false);
        return;
      }
    } else if (!isDeviceId(client.id)) {
      this.metrics.connectionRefused(DenialReason.clientIdMismatch);
      callback(authError(DenialReason.clientIdMismatch, 'client id is not a device id', 2), false);
      return;
    }
    info.bucket = new TokenBucket(this.options.limits.deviceRatePerSec, this.options.limits.deviceRateBurst, this.clock.now());
    callback(null, true);
  }

  private authorizeSubscribe(
    client: Client,
    subscription: Subscription,
    callback: (error: Error | null, sub?: Subscription | null) => void,
  ): void {
    const decision = authorizeDeviceSubscribe(client.id, subscription.topic, this.info(client)?.credential ?? 'identity');
    if (decision.allowed) {
      callback(null, subscription);
      return;
    }
    // [MQTT-3.9.3]: 0x80 in the SUBACK refuses this filter; the session goes on.
    this.metrics.denied(decision.reason);
    this.logger.warn({ deviceId: client.id, filter: subscription.topic, reason: decision.reason }, 'subscription refused');
    callback(null, null);
  }

  /**
   * The publish path. Order matters: ACL, then limits, then payload, then
   * the stream. Only after the stream has stored the reading does Aedes send
   * PUBACK, so an acknowledged reading is never lost.
   */
  private authorizePublish(client: Client | null, packet: PublishPacket, callback: (error?: Error | null) => void): void {
    if (client === null) {
      callback(new Error('broker-originated publishes are not accepted'));
      return;
    }
    const info = this.info(client);
    if (info === undefined) {
      callback(new Error('unknown connection'));
      return;
    }
    const decision = authorizeDevicePublish(client.id, packet.topic, info.credential);
    if (!decision.allowed) {
      // [MQTT-3.3.5-2]: 3.1.1 has no way to refuse a PUBLISH but to close the connection.
      this.metrics.denied(decision.reason);
      this.logger.warn({ deviceId: client.id, topic: packet.topic, reason: decision.reason }, 'publish refused');
      callback(new DenialError(decision.reason, `publish to ${packet.topic} refused`));
      return;
    }
    this.metrics.messageIn(decision.kind);
    if (packet.retain) {
      // Retained device messages would outlive the device's session and reach
      // later subscribers; the gateway never stores them.
      this.metrics.denied(DenialReason.retainRefused);
      packet.retain = false;
    }
    if (decision.kind === 'attestRequest' || decision.kind === 'attestEvidence') {
      this.attest(client, decision.kind, packet, callback);
      return;
    }
    const kind = decision.kind;
    this.admit(info, packet).then(
      (admitted) => {
        if (!admitted) {
          // Shed: acknowledged per QoS and discarded [MQTT-3.3.5-2].
          callback(null);
          return;
        }
        if (kind === 'failures' || kind === 'heartbeat') this.bridgeFailure(kind, client, info.tenantId, packet, callback);
        else this.bridgeTelemetry(client, info.tenantId, packet, callback);
      },
      (error: unknown) => callback(error as Error),
    );
  }

  /**
   * Attestation messages go to the attestation service through the gate
   * (per-identity limits, a bounded queue with deadlines); its answer comes
   * back on `devices/<id>/attest/response`. The PUBLISH is acknowledged at
   * once: the device waits for the response message, not the PUBACK.
   */
  private attest(
    client: Client,
    kind: 'attestRequest' | 'attestEvidence',
    packet: PublishPacket,
    callback: (error?: Error | null) => void,
  ): void {
    callback(null);
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const deviceId = client.id;
    // The gate never rejects; the rejection path is here all the same, so nothing can leave a floating rejection.
    this.attestation
      .submit(deviceId, kind, payload, () => !client.closed)
      .then(
        (response) => {
          if (response !== undefined) this.respond(deviceId, response);
        },
        (error: unknown) => this.logger.error({ deviceId, err: error }, 'attestation answer lost'),
      );
  }

  private respond(deviceId: string, response: AttestationResponse): void {
    if (response.type === 'verdict' && !response.verdict.pass) {
      this.logger.warn({ deviceId, reasons: response.verdict.reasons }, 'attestation refused');
    }
    this.aedes?.publish(
      {
        cmd: 'publish',
        topic: attestResponseTopic(deviceId),
        payload: Buffer.from(JSON.stringify(response)),
        qos: 1,
        retain: false,
        dup: false,
      },
      (error) => {
        if (error) this.logger.warn({ deviceId, err: error.message }, 'attestation response not delivered');
      },
    );
  }

  /** Rate limit and global admission; true once a bridge slot is held. */
  private async admit(info: ConnectionInfo, packet: PublishPacket): Promise<boolean> {
    const bucket = info.bucket;
    if (bucket !== undefined && !bucket.tryTake(this.clock.now())) {
      if (packet.qos === 0) {
        this.shed('rate_limited');
        return false;
      }
      // QoS 1 over the rate waits: the client's read loop stalls and TCP
      // slows the sender instead of the gateway buffering.
      await delay(bucket.waitMs(this.clock.now()));
      bucket.tryTake(this.clock.now());
    }
    const slot = packet.qos === 0 ? this.admission.tryAcquire() : await this.admission.acquire();
    if (!slot) {
      this.shed('overloaded');
      return false;
    }
    return true;
  }

  /** Holds an admission slot until the stream has answered. */
  private bridgeTelemetry(client: Client, tenantId: string | null, packet: PublishPacket, callback: (error?: Error | null) => void): void {
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    this.bridge.forward(client.id, payload, tenantId).then(
      (outcome) => {
        this.admission.release();
        if (outcome.kind === 'rejected') {
          this.metrics.denied(outcome.reason);
          this.logger.warn({ deviceId: client.id, reason: outcome.reason, detail: outcome.detail }, 'reading refused');
        } else {
          this.metrics.bridgedReading();
        }
        callback(null);
      },
      (error: unknown) => {
        this.admission.release();
        this.metrics.bridgeFailed();
        this.logger.error({ deviceId: client.id, err: error }, 'telemetry stream unavailable; closing connection so the device retries');
        // No PUBACK: the device still holds the reading and will resend it.
        callback(new Error('telemetry stream unavailable'));
      },
    );
  }

  /** Like telemetry: PUBACK only once the FAILURES stream holds the report or heartbeat. */
  private bridgeFailure(
    kind: FailureStreamKind,
    client: Client,
    tenantId: string | null,
    packet: PublishPacket,
    callback: (error?: Error | null) => void,
  ): void {
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    this.failures.forward(kind, client.id, tenantId, payload).then(
      (outcome) => {
        this.admission.release();
        if (outcome.kind === 'rejected') {
          this.metrics.denied(outcome.reason);
          this.logger.warn({ deviceId: client.id, kind, reason: outcome.reason, detail: outcome.detail }, 'failure report refused');
        }
        callback(null);
      },
      (error: unknown) => {
        this.admission.release();
        this.metrics.bridgeFailed();
        this.logger.error({ deviceId: client.id, err: error }, 'failure stream unavailable; closing connection so the device retries');
        callback(new Error('failure stream unavailable'));
      },
    );
  }

  private shed(reason: 'rate_limited' | 'overloaded'): void {
    this.metrics.shedMessage(reason);
    this.shedSinceLog++;
  }

  private logShed(): void {
    this.attestation.logSummary();
    if (Object.keys(this.tlsRefusedUnlogged).length > 0) {
      this.logger.warn({ byReason: this.tlsRefusedUnlogged }, 'more TLS handshakes refused (not logged one by one)');
      this.tlsRefusedUnlogged = {};
    }
    this.tlsRefusalsLogged = 0;
    const door = this.refusedAtDoorSinceLog;
    if (door.connection_limit + door.handshake_limit > 0) {
      this.logger.warn(
        { reason: DenialReason.overloaded, ...door, open: this.front?.connections, handshaking: this.front?.handshaking },
        'connections refused at the door: socket limits reached',
      );
      door.connection_limit = 0;
      door.handshake_limit = 0;
    }
    if (this.shedSinceLog === 0) return;
    this.logger.warn({ shed: this.shedSinceLog, totals: this.metrics.totals.shed }, 'device messages shed to protect the gateway');
    this.shedSinceLog = 0;
  }

  private onClientError(client: Client | null, error: Error): void {
    const message = error.message;
    if (/connect did not arrive in time/.test(message)) {
      this.metrics.denied(DenialReason.connectTimeout);
      this.logger.warn({ reason: DenialReason.connectTimeout }, 'connection closed: no CONNECT in time');
    } else if (/unacceptable protocol version/.test(message)) {
      this.metrics.connectionRefused(DenialReason.unsupportedProtocol);
      this.logger.warn({ reason: DenialReason.unsupportedProtocol }, 'connection refused: only MQTT 3.1.1 is spoken here (CONNACK 0x01)');
    } else if (/keep alive timeout/.test(message)) {
      // The device went quiet (a lost network, usually), not a protocol violation.
      this.metrics.denied(DenialReason.keepaliveTimeout);
      this.logger.info({ deviceId: client?.id, reason: DenialReason.keepaliveTimeout }, 'connection closed: keepalive expired');
    } else if (error instanceof DenialError) {
      // Already counted and logged where it was decided.
    } else if (!/ECONNRESET|EPIPE|premature close|write after end/i.test(message)) {
      this.metrics.denied(DenialReason.protocolError);
      this.logger.warn({ clientId: client?.id, err: message }, 'client error');
    }
  }

  async close(): Promise<void> {
    clearInterval(this.shedTimer);
    this.logShed();
    const closing: Array<Promise<void>> = [];
    for (const server of [this.front?.server, this.devServer]) {
      if (server !== undefined) closing.push(new Promise((resolve) => server.close(() => resolve())));
    }
    const aedes = this.aedes;
    if (aedes !== undefined) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(closing);
    // Readings already accepted still go to the stream before the bus drains.
    await this.bridge.drain();
    await this.failures.drain();
    await this.revocations.stop();
    for (const stop of this.extraStops) await stop();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function listen(server: TcpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}
