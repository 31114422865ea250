import type { DenialReasonValue } from '@rampart/contracts';

/** Why a device message was dropped: over a limit, no room to queue, queued past its deadline, or its device gone. */
export type ShedReason = 'rate_limited' | 'overloaded' | 'expired' | 'cancelled';

/**
 * What the MQTT layer counts. Declared here, below the gateway's wiring, so
 * mqtt/ never imports the exporter that implements it (MqttMetrics).
 */
export interface MqttMetrics {
  connectionRefused(reason: DenialReasonValue): void;
  denied(reason: DenialReasonValue): void;
  shedMessage(reason: ShedReason): void;
  messageIn(kind: string): void;
  bridgedReading(): void;
  bridgeFailed(): void;
  /** Running tallies; the shed summary logs them. */
  readonly totals: { readonly shed: Readonly<Record<string, number>> };
}
