import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { DEVICE_TLS_SERVER_OPTIONS } from '@rampart/trust';
import type { Logger } from '@rampart/service-kit';
import { connectionCapWithin, processOpenFileLimit } from './descriptor-budget.js';
import type { MqttLimits } from './limits.js';
import { SocketFront, type DoorRefusal } from './socket-front.js';

export interface TlsListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  /** Roots a device certificate may chain to: manufacturer (IDevID) and platform (LDevID). */
  readonly trustedCaPems: readonly string[];
  readonly limits: Pick<MqttLimits, 'connectTimeoutMs' | 'maxConnections' | 'maxHandshaking'>;
}

export interface TlsListenerEvents {
  /** A socket whose client certificate verified. */
  readonly secured: (socket: TLSSocket) => void;
  /** A handshake that failed or never finished; the socket is still open. */
  readonly handshakeFailed: (error: Error & { code?: string }, socket: TLSSocket) => void;
  /** A TCP connection closed at the door, before any TLS byte was read. */
  readonly refusedAtDoor: (reason: DoorRefusal) => void;
}

export interface TlsListener {
  readonly front: SocketFront;
  readonly port: number;
}

/** MQTT over TLS with client certificates required, behind the socket limits. */
export async function startTlsListener(options: TlsListenerOptions, events: TlsListenerEvents, logger: Logger): Promise<TlsListener> {
  const tlsServer = createTlsServer(
    {
      cert: options.certificatePem,
      key: options.privateKeyPem,
      // Both kinds of device certificate verify during the handshake; which one it is decides the ACL.
      ca: [...options.trustedCaPems],
      requestCert: true,
      rejectUnauthorized: true,
      // TLS 1.2+ with ECDHE and AEAD suites only (Node's defaults still offer CBC and SHA-1).
      ...DEVICE_TLS_SERVER_OPTIONS,
      handshakeTimeout: options.limits.connectTimeoutMs,
    },
    events.secured,
  );
  tlsServer.on('tlsClientError', events.handshakeFailed);
  const openFileLimit = processOpenFileLimit();
  const maxConnections = connectionCapWithin(options.limits.maxConnections, openFileLimit);
  if (maxConnections < options.limits.maxConnections) {
    logger.warn(
      { configured: options.limits.maxConnections, openFileLimit, maxConnections },
      'MAX_CONNECTIONS is above what the open-file limit can hold; capped lower (raise ulimit -n to allow more)',
    );
  }
  const front = new SocketFront(
    tlsServer,
    { maxConnections, maxHandshaking: Math.min(options.limits.maxHandshaking, maxConnections) },
    events.refusedAtDoor,
  );
  const port = await listen(front.server, options.host, options.port);
  logger.info({ host: options.host, port }, 'MQTT over TLS listening (client certificates required)');
  return { front, port };
}

export interface DevListener {
  readonly server: TcpServer;
  readonly port: number;
}

/** Plain TCP for development: no certificate, so client ids are taken on trust. */
export async function startDevListener(
  options: { readonly host: string; readonly port: number },
  accepted: (socket: Socket) => void,
  logger: Logger,
): Promise<DevListener> {
  const server = createTcpServer({ noDelay: true }, accepted);
  const port = await listen(server, options.host, options.port);
  logger.warn(
    { host: options.host, port },
    'DEVELOPMENT LISTENER ON: plain TCP, client ids are taken on trust. Never enable this in production.',
  );
  return { server, port };
}

/** Resolves with the port bound (the one asked for, or the one picked for port 0). */
export function listen(server: TcpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}

export function closeServer(server: TcpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
