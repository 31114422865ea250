import type { AttestationResponse, DenialReasonValue } from '@rampart/contracts';

/*
 * What the publish routes need of the bridges behind them. Declared here, so
 * mqtt/ stays below the gateway's wiring: gateway/ implements these
 * (StreamBridge, AttestationGate) and hands them in.
 */

/** What a bridge answers for one device message: stored in its stream, or refused with why. */
export type BridgeOutcome =
  { readonly kind: 'stored' } | { readonly kind: 'rejected'; readonly reason: DenialReasonValue; readonly detail: string };

/** Carries device messages of `Kind` to their stream; settles once the stream holds one (or refuses its payload). */
export interface PayloadForwarder<Kind extends string> {
  forward(kind: Kind, deviceId: string, tenantId: string | null, payload: Buffer): Promise<BridgeOutcome>;
}

/** The device messages that go to the attestation service. */
export type AttestationKind = 'attestRequest' | 'attestEvidence';

/** Passes an attestation message on; the answer for the device, or undefined when nobody is left to answer. Never rejects. */
export interface AttestationSubmitter {
  submit(deviceId: string, kind: AttestationKind, payload: Buffer, stillConnected: () => boolean): Promise<AttestationResponse | undefined>;
}
