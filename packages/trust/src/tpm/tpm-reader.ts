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
 * structure is either consumed exactly or refused.
 */
export class TpmReader {
  private offset = 0;

  constructor(
    private readonly bytes: Buffer,
    private readonly structure: string,
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
    return this.take(2).readUInt16BE(0);
  }

  u32(): number {
    return this.take(4).readUInt32BE(0);
  }

  u64(): bigint {
    return this.take(8).readBigUInt64BE(0);
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
