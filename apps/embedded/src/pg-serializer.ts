import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * PGlite runs one query at a time, and @electric-sql/pglite-socket
 * multiplexes its connections message by message: two clients using the
 * extended query protocol (Parse/Bind/Execute/Sync) at once interleave and
 * corrupt each other's unnamed statements ("bind message supplies 2
 * parameters, but prepared statement requires 1"). This proxy sits in
 * front and lets one client's exchange through at a time: from its first
 * message up to the server's ReadyForQuery with status idle, so a whole
 * transaction (or a COPY) also stays together. Only message boundaries are
 * read (PostgreSQL protocol v3: a type byte and an Int32 length); the bytes
 * pass through unchanged.
 */
export class PgSerializer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private holder: Connection | undefined;
  private readonly waiting: Connection[] = [];

  constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
  ) {}

  async start(): Promise<number> {
    const server = createServer((client) => {
      this.sockets.add(client);
      client.once('close', () => this.sockets.delete(client));
      new Connection(this, client, createConnection({ host: this.upstreamHost, port: this.upstreamPort }));
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : 0);
      });
    });
  }

  /** Calls `go` once `connection` holds the turn. */
  acquire(connection: Connection): void {
    if (this.holder === connection) return;
    if (this.holder === undefined) {
      this.holder = connection;
      connection.granted();
    } else if (!this.waiting.includes(connection)) {
      this.waiting.push(connection);
    }
  }

  release(connection: Connection): void {
    const index = this.waiting.indexOf(connection);
    if (index >= 0) this.waiting.splice(index, 1);
    if (this.holder !== connection) return;
    this.holder = this.waiting.shift();
    this.holder?.granted();
  }

  holds(connection: Connection): boolean {
    return this.holder === connection;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Messages after which the client waits for the server (they end an exchange). */
const EXCHANGE_END = new Set(['S'.charCodeAt(0), 'Q'.charCodeAt(0)]);
const READY_FOR_QUERY = 'Z'.charCodeAt(0);
const IDLE = 'I'.charCodeAt(0);
const SSL_REQUEST_CODE = 80877103;

class Connection {
  private inbound = Buffer.alloc(0);
  private outbound = Buffer.alloc(0);
  private readonly queue: Buffer[] = [];
  private startupSeen = false;

  constructor(
    private readonly serializer: PgSerializer,
    private readonly client: Socket,
    private readonly upstream: Socket,
  ) {
    client.on('data', (chunk: Buffer) => this.fromClient(chunk));
    upstream.on('data', (chunk: Buffer) => this.fromServer(chunk));
    const close = (): void => {
      this.serializer.release(this);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', close);
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
  }

  private fromClient(chunk: Buffer): void {
    this.inbound = Buffer.concat([this.inbound, chunk]);
    for (;;) {
      const unit = this.nextUnit();
      if (unit === undefined) return;
      this.queue.push(unit);
      this.serializer.acquire(this);
      if (this.serializer.holds(this)) this.flush();
    }
  }

  /** The next complete exchange from the client (startup, or messages up to Sync/Query), if any. */
  private nextUnit(): Buffer | undefined {
    if (!this.startupSeen) {
      if (this.inbound.length < 8) return undefined;
      const length = this.inbound.readInt32BE(0);
      if (this.inbound.length < length) return undefined;
      const unit = this.inbound.subarray(0, length);
      this.inbound = this.inbound.subarray(length);
      if (this.inbound.length === 0 && unit.readInt32BE(4) === SSL_REQUEST_CODE) {
        this.client.write('N'); // no TLS on a loopback socket; the client goes on with its startup
        return this.nextUnit();
      }
      this.startupSeen = true;
      return unit;
    }
    let offset = 0;
    while (offset + 5 <= this.inbound.length) {
      const type = this.inbound[offset] ?? 0;
      const length = this.inbound.readInt32BE(offset + 1);
      if (offset + 1 + length > this.inbound.length) return undefined;
      offset += 1 + length;
      // A client that holds the turn (mid-transaction, mid-COPY) sends straight through.
      if (EXCHANGE_END.has(type) || this.serializer.holds(this)) {
        const unit = this.inbound.subarray(0, offset);
        this.inbound = this.inbound.subarray(offset);
        return unit;
      }
    }
    return undefined;
  }

  granted(): void {
    this.flush();
  }

  private flush(): void {
    while (this.queue.length > 0) {
      const unit = this.queue.shift();
      if (unit !== undefined) this.upstream.write(unit);
    }
  }

  private fromServer(chunk: Buffer): void {
    this.client.write(chunk);
    this.outbound = Buffer.concat([this.outbound, chunk]);
    let offset = 0;
    while (offset + 5 <= this.outbound.length) {
      const type = this.outbound[offset] ?? 0;
      const length = this.outbound.readInt32BE(offset + 1);
      if (offset + 1 + length > this.outbound.length) break;
      if (type === READY_FOR_QUERY && this.outbound[offset + 5] === IDLE && this.queue.length === 0) this.serializer.release(this);
      offset += 1 + length;
    }
    this.outbound = this.outbound.subarray(offset);
  }
}
