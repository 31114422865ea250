import type { EvidenceKind } from '@rampart/contracts';
import type { BootResult } from '../mcu/secure-boot.js';
import type { AttestChallenge } from './device-messages.js';

/**
 * The attestation step of a device, one per evidence kind: what it says when it asks to attest, and the evidence
 * it answers the platform's challenge with. The device machine decides when to attest; the attestor only makes the
 * messages. A synchronous answer is published at once; a promise (a TPM's commands are processes) when it settles,
 * on the connection that asked if that is still open. A rejection sends nothing: the machine's attestation timeout
 * takes over.
 */
export interface Attestor {
  /** The evidence kind (`EVIDENCE_KINDS`). */
  readonly kind: EvidenceKind;
  /** Told of every boot (power-on, reboot, an update's reboot) before the device attests on it. */
  booted(boot: BootResult): void;
  /** The body of `attest/request`. */
  request(): string | Promise<string>;
  /** The evidence for `challenge`, as the envelope's JSON object. */
  evidence(challenge: AttestChallenge): object | Promise<object>;
  /** Power-off: releases what the attestor holds (a TPM process). */
  shutdown(): Promise<void>;
}
