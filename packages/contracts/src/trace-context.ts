/**
 * W3C trace context (`traceparent`, version 00). MQTT 3.1.1 has no message
 * headers, so a device that traces a message (a reading, an attestation)
 * puts it in the payload; the gateway continues the trace from it, and NATS
 * headers carry it from there.
 */
export const TRACEPARENT_PATTERN = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;
