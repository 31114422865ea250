import { decode, encode, type DecodeOptions } from 'cbor2';

/**
 * How Rampart reads CBOR that came from a device: one definite-length item with nothing after it
 * (RFC 8949 §5.3.1 "well-formed", and §4.2.1 preferred serialization: no integer or length longer than it needs),
 * no duplicate map keys (§5.6: a map with duplicates is not valid, and a lax decoder keeping the last one lets
 * two verifiers see two different tokens), no floats or simple values other than true/false/null (no claim uses
 * them), no tag given meaning behind our back (every tag stays a `Tag` for the caller to accept or refuse), and a
 * shallow nesting limit (a PSA token nests four deep).
 */
const DEVICE_CBOR: DecodeOptions = {
  rejectDuplicateKeys: true,
  rejectStreaming: true,
  requirePreferred: true,
  rejectLongFloats: true,
  rejectFloats: true,
  rejectSimple: true,
  rejectUndefined: true,
  rejectBigInts: true,
  ignoreGlobalTags: true,
  preferMap: true,
  maxDepth: 8,
};

export class CborRefusedError extends Error {
  override readonly name = 'CborRefusedError';
}

/** Decodes one CBOR item from untrusted bytes under the rules above; throws `CborRefusedError` with the decoder's reason. */
export function decodeDeviceCbor(bytes: Uint8Array): unknown {
  try {
    return decode(bytes, DEVICE_CBOR);
  } catch (error) {
    throw new CborRefusedError(error instanceof Error ? error.message : String(error), { cause: error });
  }
}

/**
 * The same bytes as a plain `Uint8Array`: cbor2 encodes a Node `Buffer` as an object of its fields, never as a
 * byte string, so every byte string handed to `encodeCbor` goes through this.
 */
export function bytesOf(b: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(b) === Uint8Array.prototype ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Preferred (shortest) serialization, definite lengths: what `decodeDeviceCbor` accepts. */
export function encodeCbor(value: unknown): Uint8Array {
  return encode(value);
}
