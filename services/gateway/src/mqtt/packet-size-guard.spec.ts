import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { MalformedLengthError, PacketSizeGuard, PacketTooLargeError } from './packet-size-guard.js';

function publish(payloadBytes: number): Buffer {
  return mqttPacket.generate({ cmd: 'publish', topic: 'a/b', payload: Buffer.alloc(payloadBytes), qos: 0, dup: false, retain: false });
}

describe(PacketSizeGuard.name, () => {
  it('passes packets under the limit, however the stream is split', () => {
    const guard = new PacketSizeGuard(1024);
    const bytes = Buffer.concat([publish(100), publish(900), publish(0)]);
    for (let i = 0; i < bytes.length; i += 7) guard.inspect(bytes.subarray(i, i + 7));
  });

  it('refuses a packet whose declared size is over the limit from its fixed header alone [MQTT-2.2.3]', () => {
    const guard = new PacketSizeGuard(1024);
    const big = publish(2000);
    // Only the fixed header (type byte + 2 length bytes) is offered: the body never needs to arrive.
    expect(() => guard.inspect(big.subarray(0, 3))).toThrow(PacketTooLargeError);
  });

  it('refuses a declared 256 MB length without buffering it', () => {
    const guard = new PacketSizeGuard(16 * 1024);
    // 0x30 PUBLISH, Remaining Length 268,435,455 = 0xFF 0xFF 0xFF 0x7F (the MQTT maximum).
    expect(() => guard.inspect(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]))).toThrow(/268435460 bytes exceeds/);
  });

  it('refuses a Remaining Length that runs past four bytes', () => {
    const guard = new PacketSizeGuard(Number.MAX_SAFE_INTEGER);
    expect(() => guard.inspect(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(MalformedLengthError);
  });

  it('counts the fixed header toward the limit', () => {
    const packet = publish(10);
    expect(() => new PacketSizeGuard(packet.length).inspect(packet)).not.toThrow();
    expect(() => new PacketSizeGuard(packet.length - 1).inspect(packet)).toThrow(PacketTooLargeError);
  });
});
