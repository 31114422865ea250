import { describe, expect, it } from 'vitest';
import { EvidenceEnvelopeSchema } from './evidence-kinds.js';
import { EVIDENCE_PACKET_OVERHEAD_BYTES, MAX_EVIDENCE_BYTES } from './evidence-limits.js';
import { TPM2_LIMITS, TPM2_MAX_EVENT_LOG_BYTES, TPM2_QUOTE_KIND, Tpm2QuoteEvidenceSchema } from './tpm2-quote.js';

const filled = (bytes: number) => Buffer.alloc(bytes, 0xa5).toString('base64url');

describe('Tpm2QuoteEvidenceSchema', () => {
  const largest = {
    kind: TPM2_QUOTE_KIND,
    challenge: filled(TPM2_LIMITS.challenge),
    idevid: filled(TPM2_LIMITS.certificate),
    ekCertificate: filled(TPM2_LIMITS.certificate),
    ekPublic: filled(TPM2_LIMITS.public),
    akPublic: filled(TPM2_LIMITS.public),
    quote: filled(TPM2_LIMITS.quote),
    signature: filled(TPM2_LIMITS.signature),
    eventLog: filled(TPM2_MAX_EVENT_LOG_BYTES),
    traceparent: `00-${'ab'.repeat(16)}-${'cd'.repeat(8)}-01`,
  };

  it('fits its largest valid envelope in MAX_EVIDENCE_BYTES with room for the MQTT packet around it', () => {
    expect(EvidenceEnvelopeSchema.safeParse(largest).success).toBe(true);
    const size = Buffer.byteLength(JSON.stringify(largest));
    expect(size).toBeLessThanOrEqual(MAX_EVIDENCE_BYTES - EVIDENCE_PACKET_OVERHEAD_BYTES);
    // The log gets the rest: a few KiB, not nothing.
    expect(TPM2_MAX_EVENT_LOG_BYTES).toBeGreaterThan(4 * 1024);
  });

  it('refuses any field one byte over its cap', () => {
    for (const [field, bytes] of [
      ['challenge', TPM2_LIMITS.challenge],
      ['idevid', TPM2_LIMITS.certificate],
      ['ekPublic', TPM2_LIMITS.public],
      ['quote', TPM2_LIMITS.quote],
      ['signature', TPM2_LIMITS.signature],
      ['eventLog', TPM2_MAX_EVENT_LOG_BYTES],
    ] as const) {
      expect(Tpm2QuoteEvidenceSchema.safeParse({ ...largest, [field]: filled(bytes + 3) }).success, field).toBe(false);
    }
  });
});
