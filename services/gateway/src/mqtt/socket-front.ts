import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';

/** Why a TCP connection was closed at the door, before any TLS byte was read. */
export type DoorRefusal = 'connection_limit' | 'handshake_limit';

export interface SocketFrontLimits {
  /** Every open socket counts, from the TCP accept on: handshaking, waiting for CONNECT, or in session. */
  readonly maxConnections: number;
  /** Of those, at most this many may still be in the TLS handshake (no certificate proven yet). */
  readonly maxHandshaking: number;
}

/**
 * The TCP listener in front of the TLS server. It accepts each socket,
 * decides whether there is room for it, and only then hands it to the TLS
 * server (Node's documented way to inject a connection: emit 'connection').
 *
 * Two limits, because a socket costs a file descriptor from the moment it is
 * accepted, not from the moment it is authenticated: the total is capped by
 * `net.Server.maxConnections` (Node closes the excess before we see it and
 * emits 'drop'), and sockets that have not finished the handshake — which
 * anyone can open without a certificate — may hold only part of that cap,
 * so a flood of idle connects cannot lock out devices that can prove who
 * they are.
 */
export class SocketFront {
  readonly server: TcpServer;
  private open = 0;
  private secured = 0;

  constructor(
    tlsServer: TlsServer,
    private readonly limits: SocketFrontLimits,
    onRefused: (reason: DoorRefusal, remoteAddress: string | undefined) => void,
  ) {
    // PUBACKs are small and latency-bound; Nagle would hold them for the peer's delayed ACK.
    this.server = createTcpServer({ noDelay: true }, (socket) => {
      if (this.handshaking >= limits.maxHandshaking) {
        socket.destroy();
        onRefused('handshake_limit', socket.remoteAddress);
        return;
      }
      this.open++;
      socket.once('close', () => this.open--);
      tlsServer.emit('connection', socket);
    });
    this.server.maxConnections = limits.maxConnections;
    this.server.on('drop', (dropped) => onRefused('connection_limit', dropped?.remoteAddress));
    tlsServer.on('secureConnection', (socket: TLSSocket) => {
      this.secured++;
      socket.once('close', () => this.secured--);
    });
  }

  /** Sockets accepted whose TLS handshake has not completed. */
  get handshaking(): number {
    return Math.max(0, this.open - this.secured);
  }

  /** Every socket held open, handshaking or not. */
  get connections(): number {
    return this.open;
  }

  get listening(): boolean {
    return this.server.listening;
  }
}
