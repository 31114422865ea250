import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

/** The most bytes a Remaining Length field may take [MQTT-2.2.3]. */
const MAX_LENGTH_BYTES = 4;

export class PacketTooLargeError extends Error {
  override readonly name = 'PacketTooLargeError';
  constructor(
    readonly declaredBytes: number,
    readonly limitBytes: number,
  ) {
    super(`packet of ${declaredBytes} bytes exceeds the limit of ${limitBytes}`);
  }
}

export class MalformedLengthError extends Error {
  override readonly name = 'MalformedLengthError';
  constructor() {
    super('malformed Remaining Length (more than 4 bytes) [MQTT-2.2.3]');
  }
}

/**
 * Watches the byte stream for MQTT fixed headers and refuses a packet whose
 * declared size is over the limit *before* its body is buffered: mqtt-packet
 * (under Aedes) would otherwise accumulate a declared 256 MB body in memory.
 * It reads only the fixed header's Remaining Length [MQTT-2.2.3] and skips
 * the body by count; parsing stays with mqtt-packet.
 */
export class PacketSizeGuard {
  private lengthBytes = 0;
  private length = 0;
  private multiplier = 1;
  private bodyLeft = 0;
  private state: 'type' | 'length' | 'body' = 'type';

  constructor(private readonly maxPacketBytes: number) {}

  /** Throws if `chunk` starts or continues a packet over the limit. */
  inspect(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      switch (this.state) {
        case 'type':
          i++;
          this.state = 'length';
          this.lengthBytes = 0;
          this.length = 0;
          this.multiplier = 1;
          break;
        case 'length': {
          const byte = chunk[i++] ?? 0;
          this.length += (byte & 0x7f) * this.multiplier;
          this.multiplier *= 128;
          this.lengthBytes++;
          if ((byte & 0x80) === 0) {
            const total = 1 + this.lengthBytes + this.length;
            if (total > this.maxPacketBytes) throw new PacketTooLargeError(total, this.maxPacketBytes);
            this.bodyLeft = this.length;
            this.state = this.bodyLeft === 0 ? 'type' : 'body';
          } else if (this.lengthBytes >= MAX_LENGTH_BYTES) {
            throw new MalformedLengthError();
          }
          break;
        }
        case 'body': {
          const take = Math.min(this.bodyLeft, chunk.length - i);
          i += take;
          this.bodyLeft -= take;
          if (this.bodyLeft === 0) this.state = 'type';
          break;
        }
      }
    }
  }
}

/**
 * Wraps a socket in a duplex that passes bytes through the size guard.
 * Backpressure is kept: when Aedes stops reading, the socket is paused, so
 * a fast sender is slowed by TCP instead of filling memory.
 */
export function guardSocket(socket: Socket, maxPacketBytes: number, onViolation: (error: Error) => void): Duplex {
  const guard = new PacketSizeGuard(maxPacketBytes);
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      if (socket.destroyed) {
        callback();
        return;
      }
      socket.write(chunk, (error) => callback(error ?? null));
    },
    // Packets Aedes writes while the socket is busy (PUBACKs for a whole
    // read batch) leave in one socket write instead of one each.
    writev(chunks, callback) {
      if (socket.destroyed) {
        callback();
        return;
      }
      socket.write(Buffer.concat(chunks.map((c) => c.chunk as Buffer)), (error) => callback(error ?? null));
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(error, callback) {
      socket.destroy();
      callback(error);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    try {
      guard.inspect(chunk);
    } catch (error) {
      socket.pause();
      onViolation(error as Error);
      socket.destroy();
      duplex.destroy();
      return;
    }
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('close', () => duplex.destroy());
  socket.on('error', (error) => duplex.destroy(error));
  socket.pause();
  return duplex;
}
