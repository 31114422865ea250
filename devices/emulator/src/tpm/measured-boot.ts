import { specIdEvent, stageEvent } from '@rampart/trust';
import type { TpmClient } from './tpm-client.js';

export interface MeasuredStage {
  readonly stage: string;
  /** The stage's SHA-256 measurement, hex. */
  readonly sha256: string;
  readonly version: string;
  readonly securityVersion: number;
}

/** The PCRs a Rampart boot extends, ascending: what the device quotes. */
export const QUOTED_PCRS: readonly number[] = [0, 4, 5, 8, 9];

/**
 * Measured boot on a TPM: each stage, in order, is logged as a TCG_PCR_EVENT2 (EV_EVENT_TAG naming the stage, its
 * version, security version and measurement; the digest is that data's SHA-256) and extended into its PCR before it runs.
 * Returns the crypto-agile event log, as firmware leaves it for the OS.
 */
export async function measureBoot(tpm: TpmClient, stages: readonly MeasuredStage[]): Promise<Buffer> {
  const events: Buffer[] = [specIdEvent()];
  for (const stage of stages) {
    const { pcr, digest, event } = stageEvent(stage);
    events.push(event);
    await tpm.extend(pcr, digest);
  }
  return Buffer.concat(events);
}
