/** A TPM structure that does not parse: truncated, trailing bytes, a value out of range. */
export class TpmFormatError extends Error {
  override readonly name = 'TpmFormatError';
  constructor(
    message: string,
    /** The structure being read when it failed. */
    readonly structure: string,
  ) {
    super(`${structure}: ${message}`);
  }
}

/**
 * A bounds-checked cursor over TPM 2.0 wire bytes: big-endian integers and `TPM2B_*` (a 16-bit size then that many
 * bytes) — TPM 2.0 Part 2 §5 and §10.4. Every read past the end throws; `end()` refuses trailing bytes, so a
 * structure is either consumed exactly or refused. `littleEndian` reads what UEFI writes (the TCG event log).
 */
export class TpmReader {
  private offset = 0;

  constructor(
    private readonly bytes: Buffer,
    private readonly structure: string,
    private readonly littleEndian = false,
  ) {}

  get position(): number {
    return this.offset;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  u8(): number {
    return this.take(1).readUInt8(0);
  }

  u16(): number {
    const b = this.take(2);
    return this.littleEndian ? b.readUInt16LE(0) : b.readUInt16BE(0);
  }

  u32(): number {
    const b = this.take(4);
    return this.littleEndian ? b.readUInt32LE(0) : b.readUInt32BE(0);
  }

  u64(): bigint {
    const b = this.take(8);
    return this.littleEndian ? b.readBigUInt64LE(0) : b.readBigUInt64BE(0);
  }

  /** `TPM2B_*`: a 16-bit size then the bytes, at most `max` of them. */
  sized(max: number, what: string): Buffer {
    const size = this.u16();
    if (size > max) throw new TpmFormatError(`${what} is ${size} bytes, more than ${max}`, this.structure);
    return this.take(size);
  }

  take(length: number): Buffer {
    if (length > this.remaining) throw new TpmFormatError(`truncated at byte ${this.offset} (wanted ${length})`, this.structure);
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }

  /** The bytes read from `start` up to here. */
  since(start: number): Buffer {
    return this.bytes.subarray(start, this.offset);
  }

  end(): void {
    if (this.remaining !== 0) throw new TpmFormatError(`${this.remaining} trailing bytes`, this.structure);
  }
}

/** `value` as a big-endian integer of exactly `size` bytes: zeros prepended; longer than `size` is refused. */
export function leftPad(value: Buffer, size: number, structure: string): Buffer {
  if (value.length > size) throw new TpmFormatError(`${value.length} bytes where ${size} fit`, structure);
  return value.length === size ? value : Buffer.concat([Buffer.alloc(size - value.length), value]);
}
