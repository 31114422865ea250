import { z } from 'zod';

/**
 * Evidence larger than this is refused before it is parsed (the JSON envelope, as sent). It is also the size of the
 * MQTT packet the gateway accepts by default (DEFAULT_MAX_PACKET_BYTES): an envelope must leave room in that packet
 * for the PUBLISH header, topic and properties (EVIDENCE_PACKET_OVERHEAD_BYTES).
 */
export const MAX_EVIDENCE_BYTES = 16 * 1024;

/**
 * What a PUBLISH on `devices/<64 hex>/attest/evidence` adds to its payload, with room to spare: fixed header (≤ 5),
 * topic (2 + 88), packet id (2), MQTT 5 properties (a few, such as a content type).
 */
export const EVIDENCE_PACKET_OVERHEAD_BYTES = 256;

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Characters of unpadded base64url that carry `bytes` bytes. */
export const base64urlLength = (bytes: number): number => Math.ceil((bytes * 4) / 3);

/** Bytes on the wire as unpadded base64url, at most `maxBytes` of them (the string's length capped accordingly). */
export const base64urlBytes = (maxBytes: number) => z.string().regex(BASE64URL).max(base64urlLength(maxBytes));
