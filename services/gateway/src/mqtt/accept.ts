import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Aedes } from 'aedes';
import { DenialReason } from '@rampart/contracts';
import { PeerIdentityError } from '@rampart/trust';
import type { Logger } from '@rampart/service-kit';
import type { MqttMetrics } from './metrics.js';
import { tlsRefusal } from './tls-refusal.js';
import type { ConnectionInfo, DeviceConnections } from './connections.js';
import { guardSocket, PacketTooLargeError } from './packet-size-guard.js';
import type { PeerIdentityClassifier } from './peer-identity.js';
import type { RefusalSummary } from './refusal-summary.js';

export interface AcceptDeps {
  readonly connections: DeviceConnections;
  readonly peers: PeerIdentityClassifier;
  readonly broker: () => Aedes | undefined;
  readonly maxPacketBytes: number;
  readonly refusals: RefusalSummary;
  readonly metrics: MqttMetrics;
  readonly logger: Logger;
}

/** From a socket the listeners accepted to a connection Aedes handles, with what the socket proved. */
export class ConnectionAcceptor {
  constructor(private readonly deps: AcceptDeps) {}

  /** A socket whose client certificate verified: classified, then handed to the broker — or closed. */
  acceptTls(socket: TLSSocket): void {
    const { connections, peers, metrics, logger } = this.deps;
    connections.track(socket);
    let identity;
    try {
      identity = peers.classify(socket.getPeerX509Certificate());
    } catch (error) {
      const reason = error instanceof PeerIdentityError ? error.reason : 'invalid';
      metrics.connectionRefused(reason === 'wrong_tenant' ? DenialReason.wrongTenant : DenialReason.notAuthenticated);
      logger.warn({ remote: socket.remoteAddress, reason, err: (error as Error).message }, 'client certificate refused');
      socket.destroy();
      return;
    }
    logger.debug(
      { deviceId: identity.certifiedId, credential: identity.credential, resumed: socket.isSessionReused() },
      'device certificate accepted',
    );
    this.handle(socket, { ...identity, listener: 'tls', remoteAddress: socket.remoteAddress ?? '' });
  }

  acceptDev(socket: Socket): void {
    this.deps.connections.track(socket);
    // The development listener takes ids on trust and grants the operational namespace.
    this.handle(socket, {
      certifiedId: undefined,
      listener: 'dev',
      credential: 'operational',
      tenantId: null,
      remoteAddress: socket.remoteAddress ?? '',
    });
  }

  /**
   * A handshake that failed or never finished. Node leaves the socket open
   * once a 'tlsClientError' listener exists, so it is destroyed here: a
   * socket that stalls the handshake must not hold a file descriptor past
   * the timeout.
   */
  handshakeFailed(error: Error & { code?: string }, socket: TLSSocket): void {
    socket.destroy();
    const { reason, detail } = tlsRefusal(error, socket.authorizationError);
    this.deps.refusals.tlsRefused(socket.remoteAddress, reason, detail);
  }

  private handle(socket: Socket, info: ConnectionInfo): void {
    const { connections, broker, maxPacketBytes, metrics, logger } = this.deps;
    const aedes = broker();
    if (aedes === undefined) return;
    const stream = guardSocket(socket, maxPacketBytes, (error) => {
      const reason = error instanceof PacketTooLargeError ? DenialReason.packetTooLarge : DenialReason.protocolError;
      metrics.denied(reason);
      logger.warn({ remote: info.remoteAddress, reason, err: error.message }, 'connection closed: packet refused');
    });
    connections.attach(stream, info);
    aedes.handle(stream);
  }
}
