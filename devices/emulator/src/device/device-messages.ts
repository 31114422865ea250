import type { AttestationResponse } from '@rampart/contracts';

/**
 * What goes into the device's machine (events) and what comes out of it
 * (effects). Connections are numbered: an event from a connection the
 * machine has already dropped is ignored.
 */

/** What the platform asks the device to prove: a nonce (PSA token) or a TPM credential challenge (the nonce inside MakeCredential). */
export type AttestChallenge = Extract<AttestationResponse, { readonly type: 'nonce' | 'tpm2-credential' }>;

export interface OperationalCertificate {
  readonly certificatePem: string;
  /** Tenant CA (and root) certificates sent with the leaf. */
  readonly chainPem: string;
  readonly notAfter: number;
}

/** The machine's timers, one of each at most. */
export type DeviceTimer = 'publish' | 'reconnect' | 'renew' | 'attest' | 'update-check';

/** Which store a published message settles when its PUBACK (or failure) comes back. */
export type PublishTag =
  { readonly store: 'readings'; readonly seq: number } | { readonly store: 'failures' | 'heartbeats'; readonly id: number };

/** What a connection presents: plain MQTT (dev endpoint), the IDevID (to attest) or the operational certificate. */
export type Credential =
  | { readonly kind: 'plain' }
  | { readonly kind: 'identity' }
  | { readonly kind: 'operational'; readonly certificate: OperationalCertificate };

/** Counters the machine bumps through `count` effects (see `DeviceStats`). */
export type DeviceCounter =
  | 'published'
  | 'dropped'
  | 'reconnects'
  | 'connectFailures'
  | 'attestations'
  | 'attestationTimeouts'
  | 'reboots'
  | 'failureReportsSent'
  | 'failureReportsDropped'
  | 'heartbeatsSent'
  | 'heartbeatsDropped';

export type DeviceEvent =
  /** `start()`: power on, then connect. */
  | { readonly type: 'start' }
  /** The OS finished powering on (after `start` or `reboot`). */
  | { readonly type: 'booted'; readonly after: 'start' | 'reboot' }
  /** Power-on after `start` threw: the device never comes up. */
  | { readonly type: 'boot-failed' }
  /** `reboot()`: drop the connection and the operational certificate, power on again. */
  | { readonly type: 'reboot' }
  /** The OS rebooted on its own (an update): attest again. */
  | { readonly type: 'os-rebooted' }
  /** `loseConnection()`: drop the connection as if the broker went away. */
  | { readonly type: 'lose-connection' }
  | { readonly type: 'connected'; readonly connection: number }
  | { readonly type: 'subscribed'; readonly connection: number; readonly ok: boolean }
  | { readonly type: 'connection-lost'; readonly connection: number }
  | { readonly type: 'challenge'; readonly connection: number; readonly challenge: AttestChallenge }
  | {
      readonly type: 'attestation-passed';
      readonly connection: number;
      readonly certificate: OperationalCertificate;
      /** The certificate's validity, for renewal at 80 % of it. */
      readonly validFrom: number;
      readonly validTo: number;
    }
  | { readonly type: 'attestation-refused'; readonly connection: number; readonly reasons: readonly string[] }
  /** The platform sent `update-check` on the device's commands topic. */
  | { readonly type: 'update-notice'; readonly connection: number }
  | { readonly type: 'timer'; readonly timer: DeviceTimer }
  /** A device app's reading (the machine numbers it, stamps it and may trace it). */
  | { readonly type: 'app-reading'; readonly metrics: Readonly<Record<string, number>> }
  /** Something arrived on a subscribed topic (the machine tells a verdict from a command by its topic). */
  | { readonly type: 'message'; readonly connection: number; readonly topic: string; readonly payload: Buffer }
  /** This start's block of sequence numbers (see the `claim-seq-epoch` effect). */
  | { readonly type: 'seq-epoch'; readonly epoch: number }
  | { readonly type: 'published'; readonly tag: PublishTag; readonly ok: boolean }
  | { readonly type: 'failure-report'; readonly payload: string }
  | { readonly type: 'heartbeat'; readonly payload: string }
  | { readonly type: 'publishing-stopped' }
  | { readonly type: 'publishing-resumed' }
  | { readonly type: 'stop' };

export type DeviceEffect =
  | { readonly type: 'power-on'; readonly after: 'start' | 'reboot' }
  | { readonly type: 'open'; readonly connection: number; readonly credential: Credential }
  /** Drop the connection at once. */
  | { readonly type: 'close'; readonly connection: number }
  /** Disconnect cleanly (the device stops). */
  | { readonly type: 'disconnect'; readonly connection: number }
  | { readonly type: 'subscribe'; readonly connection: number; readonly topics: readonly string[] }
  | {
      readonly type: 'publish';
      readonly connection: number;
      readonly topic: string;
      readonly payload: string | Buffer;
      readonly tag?: PublishTag;
    }
  /** Ask the attestor for the first message of an attestation (its evidence kind's request) and publish it on `topic`. */
  | { readonly type: 'request-attestation'; readonly connection: number; readonly topic: string }
  /** The attestor's evidence for `challenge`, published on `topic` (with `traceparent` beside it, when traced). */
  | {
      readonly type: 'send-evidence';
      readonly connection: number;
      readonly topic: string;
      readonly challenge: AttestChallenge;
      readonly traceparent?: string;
    }
  /** Start `timer` (replacing one already running). */
  | { readonly type: 'set-timer'; readonly timer: DeviceTimer; readonly ms: number }
  | { readonly type: 'clear-timer'; readonly timer: DeviceTimer }
  /**
   * Take the next start's number from the device's state store and feed it back as `seq-epoch` (a device that
   * restarts with its state continues numbering after every earlier start).
   */
  | { readonly type: 'claim-seq-epoch' }
  | { readonly type: 'check-updates' }
  /** Take the recovery path (refused attestation for what a newer OS cures). */
  | { readonly type: 'recover' }
  | { readonly type: 'acknowledged'; readonly latencyMs: number }
  /** Nothing is pending any more. */
  | { readonly type: 'drained' }
  | { readonly type: 'went-online' }
  | { readonly type: 'attestation-refused'; readonly reasons: readonly string[] }
  /** An operational certificate was issued (first attestation or renewal). */
  | { readonly type: 'attestation-passed' }
  | { readonly type: 'count'; readonly counter: DeviceCounter };

/** An event as the machine's step takes it: stamped with the time it happened, so the step reads no clock. */
export type TimedEvent = DeviceEvent & { readonly at: number };
