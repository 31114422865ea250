import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { Client } from 'aedes';
import type { DeviceCredential } from '@rampart/contracts';
import type { TokenBucket } from '@rampart/service-kit';

/** What the gateway knows about a connection before MQTT starts. */
export interface ConnectionInfo {
  /** Device id proven by the client certificate; undefined on the dev listener. */
  readonly certifiedId: string | undefined;
  readonly listener: 'tls' | 'dev';
  readonly credential: DeviceCredential;
  /** From the operational certificate; null on the manufacturer identity or the dev listener. */
  readonly tenantId: string | null;
  readonly remoteAddress: string;
  /** The device's publish rate; set once it has authenticated. */
  bucket?: TokenBucket;
}

/** Every connection the gateway holds: its sockets, what each proved before MQTT, and the sessions past CONNACK. */
export class DeviceConnections {
  private readonly infos = new WeakMap<object, ConnectionInfo>();
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

  /** A socket to destroy when the gateway closes. */
  track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  /** What the connection on `stream` (the one Aedes handles) proved before MQTT started. */
  attach(stream: Duplex, info: ConnectionInfo): void {
    this.infos.set(stream, info);
  }

  info(client: Client): ConnectionInfo | undefined {
    return this.infos.get(client.conn);
  }

  /** Called on Aedes's clientReady. */
  sessionReady(client: Client): void {
    // Aedes may close a client during its asynchronous connect steps and still report it ready: its 'close' has
    // then fired already, and a session kept now would never be removed (and count against MAX_CONNECTIONS).
    const conn = client.conn as { destroyed?: boolean };
    if (client.closed || conn.destroyed === true) return;
    this.sessions.set(client.id, client);
    client.conn.once('close', () => {
      if (this.sessions.get(client.id) === client) this.sessions.delete(client.id);
    });
  }

  session(deviceId: string): Client | undefined {
    return this.sessions.get(deviceId);
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  destroyAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }
}
