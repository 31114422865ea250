import { describe, expect, it } from 'vitest';
import { attestResponseEvent } from './attest-response.js';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe(attestResponseEvent.name, () => {
  it('turns a nonce or a TPM credential challenge into a challenge event on the connection it came on', () => {
    expect(attestResponseEvent(3, json({ type: 'nonce', nonce: 'n-1', expiresAt: 0 }))).toEqual({
      type: 'challenge',
      connection: 3,
      challenge: { type: 'nonce', nonce: 'n-1', expiresAt: 0 },
    });
    const credential = { type: 'tpm2-credential', challenge: 'c', idObject: 'i', encryptedSecret: 's', expiresAt: 0 };
    expect(attestResponseEvent(4, json(credential))).toEqual({ type: 'challenge', connection: 4, challenge: credential });
  });

  it('turns a failed verdict into a refusal with its reasons', () => {
    expect(attestResponseEvent(3, json({ type: 'verdict', verdict: { pass: false, reasons: ['SIGNATURE_INVALID'] } }))).toEqual({
      type: 'attestation-refused',
      connection: 3,
      reasons: ['SIGNATURE_INVALID'],
    });
  });

  it('turns an error into a refusal naming the error code', () => {
    expect(attestResponseEvent(3, json({ type: 'error', code: 'RATE_LIMITED', message: 'slow down' }))).toEqual({
      type: 'attestation-refused',
      connection: 3,
      reasons: ['RATE_LIMITED'],
    });
  });

  it('ignores a payload that is not JSON (the attestation timeout takes over)', () => {
    expect(attestResponseEvent(3, Buffer.from('not json'))).toBeUndefined();
  });
});
