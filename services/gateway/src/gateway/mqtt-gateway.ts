import type { Aedes } from 'aedes';
import { DenialReason, deviceCommandTopic, type DeviceCommand } from '@rampart/contracts';
import type { Clock, Logger } from '@rampart/service-kit';
import { ConnectionAcceptor } from '../mqtt/accept.js';
import { createBroker } from '../mqtt/broker.js';
import { clientErrorHandler } from '../mqtt/client-error.js';
import { DeviceConnections } from '../mqtt/connections.js';
import { authenticateHook } from '../mqtt/hooks/authenticate.js';
import { authorizeForwardHook } from '../mqtt/hooks/authorize-forward.js';
import { authorizePublishHook } from '../mqtt/hooks/authorize-publish.js';
import { authorizeSubscribeHook } from '../mqtt/hooks/authorize-subscribe.js';
import { preConnectHook } from '../mqtt/hooks/pre-connect.js';
import { closeServer, startDevListener, startTlsListener, type DevListener } from '../mqtt/listeners.js';
import { PeerIdentityClassifier } from '../mqtt/peer-identity.js';
import { publishRoutes } from '../mqtt/publish/routes.js';
import { admitTimer } from '../mqtt/publish/steps.js';
import { RefusalSummary } from '../mqtt/refusal-summary.js';
import { Admission } from '../mqtt/admission.js';
import type { AttestationGate } from './attestation-gate.js';
import type { FailureStreamKind } from './failure-bridge.js';
import type { GatewayLimits } from './gateway.config.js';
import type { GatewayMetrics } from './gateway-metrics.js';
import type { SocketFront } from '../mqtt/socket-front.js';
import type { StreamBridge } from './stream-bridge.js';
import type { TelemetryKind } from './telemetry-bridge.js';

/** How often the flood summaries (refusals, shed messages, attestation refusals) are logged. */
const SUMMARY_INTERVAL_MS = 10_000;

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

/** What the gateway needs of the revocation list. */
export interface RevocationSource {
  isRevoked(deviceId: string): boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The MQTT front door: Aedes behind TLS with manufacturer-endorsed client
 * certificates, a per-device topic namespace, hostile-input limits and
 * bridges from device messages to their streams. This class only wires the
 * parts in `src/mqtt/` together and runs their lifecycle.
 */
export class MqttGateway {
  private readonly admission: Admission;
  private readonly connections = new DeviceConnections();
  private readonly peers: PeerIdentityClassifier;
  private readonly refusals: RefusalSummary;
  private aedes: Aedes | undefined;
  private front: SocketFront | undefined;
  private dev: DevListener | undefined;
  private summaryTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private readonly extraStarts: Array<() => Promise<void>> = [];
  private readonly extraStops: Array<() => Promise<void>> = [];

  constructor(
    private readonly options: MqttGatewayOptions,
    private readonly telemetry: StreamBridge<TelemetryKind>,
    private readonly failures: StreamBridge<FailureStreamKind>,
    private readonly attestation: AttestationGate,
    private readonly revocations: RevocationSource,
    private readonly metrics: GatewayMetrics,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {
    this.admission = new Admission(options.limits.bridgeMaxInFlight, options.limits.bridgeMaxWaiting);
    this.peers = new PeerIdentityClassifier(options.tls);
    this.refusals = new RefusalSummary(metrics, logger, () => ({ open: this.front?.connections, handshaking: this.front?.handshaking }));
  }

  /**
   * Sends a command to those of `deviceIds` connected here, on their own
   * commands topic (QoS 1); returns how many it reached.
   */
  sendCommand(deviceIds: readonly string[], command: DeviceCommand): number {
    const aedes = this.aedes;
    if (aedes === undefined) return 0;
    let sent = 0;
    for (const deviceId of deviceIds) {
      if (this.connections.session(deviceId) === undefined) continue;
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
    const client = this.connections.session(deviceId);
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
    return this.connections.sessionCount;
  }

  /** Something to start with the gateway and stop with it (bus listeners that act on its clients). */
  onLifecycle(start: () => Promise<void>, stop: () => Promise<void>): void {
    this.extraStarts.push(start);
    this.extraStops.push(stop);
  }

  async start(): Promise<{ mqttPort: number; devPort: number | undefined }> {
    await this.telemetry.start();
    for (const start of this.extraStarts) await start();
    await this.failures.start();
    await this.revocations.start();
    const { connections, metrics, logger, clock, admission, refusals } = this;
    const { limits } = this.options;
    const broker = (): Aedes | undefined => this.aedes;
    const routes = publishRoutes({
      telemetry: this.telemetry,
      failures: this.failures,
      attestation: this.attestation,
      admission,
      broker,
      metrics,
      logger,
    });
    const aedes = await createBroker(limits, {
      preConnect: preConnectHook({ connections, metrics, logger }),
      authenticate: authenticateHook({ connections, revocations: this.revocations, limits, refusals, metrics, logger, clock }),
      authorizePublish: authorizePublishHook({ connections, routes, admission, refusals, metrics, logger, timer: admitTimer(clock) }),
      authorizeSubscribe: authorizeSubscribeHook({ connections, metrics, logger }),
      authorizeForward: authorizeForwardHook(),
    });
    this.aedes = aedes;
    aedes.on('clientReady', (client) => {
      metrics.connectionAccepted();
      connections.sessionReady(client);
    });
    const onClientError = clientErrorHandler(metrics, logger);
    aedes.on('clientError', onClientError);
    aedes.on('connectionError', onClientError);

    const acceptor = new ConnectionAcceptor({
      connections,
      peers: this.peers,
      broker,
      maxPacketBytes: limits.maxPacketBytes,
      refusals,
      metrics,
      logger,
    });
    const tls = await startTlsListener(
      { ...this.options.mqtt, ...this.options.tls, trustedCaPems: this.peers.trustedCaPems, limits },
      {
        secured: (socket) => acceptor.acceptTls(socket),
        handshakeFailed: (error, socket) => acceptor.handshakeFailed(error, socket),
        refusedAtDoor: (reason) => refusals.refusedAtDoor(reason),
      },
      logger,
    );
    this.front = tls.front;
    if (this.options.devListener !== undefined) {
      this.dev = await startDevListener(this.options.devListener, (socket) => acceptor.acceptDev(socket), logger);
    }
    this.summaryTimer = setInterval(() => this.logSummaries(), SUMMARY_INTERVAL_MS);
    this.summaryTimer.unref();
    return { mqttPort: tls.port, devPort: this.dev?.port };
  }

  private logSummaries(): void {
    this.attestation.logSummary();
    this.refusals.flush();
  }

  /** Closes the listeners, then drains the bridges; idempotent (the start step's undo and Nest's shutdown both call it). */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    clearInterval(this.summaryTimer);
    this.logSummaries();
    const closing: Array<Promise<void>> = [];
    for (const server of [this.front?.server, this.dev?.server]) {
      if (server !== undefined) closing.push(closeServer(server));
    }
    const aedes = this.aedes;
    if (aedes !== undefined) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    this.connections.destroyAll();
    await Promise.all(closing);
    // Readings already accepted still go to the stream before the bus drains.
    await this.telemetry.drain();
    await this.failures.drain();
    await this.revocations.stop();
    for (const stop of this.extraStops) await stop();
  }
}
