import { EV_EVENT_TAG, pcrEvent2, pcrOfStage, specIdEvent, stageEventData } from '@rampart/trust';
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
 * version and security version, its measurement as the SHA-256 digest) and extended into its PCR before it runs.
 * Returns the crypto-agile event log, as firmware leaves it for the OS.
 */
export async function measureBoot(tpm: TpmClient, stages: readonly MeasuredStage[]): Promise<Buffer> {
  const events: Buffer[] = [specIdEvent()];
  for (const { stage, sha256, version, securityVersion } of stages) {
    const pcr = pcrOfStage(stage);
    if (pcr === undefined) throw new Error(`no PCR for stage ${stage}`);
    const digest = Buffer.from(sha256, 'hex');
    events.push(pcrEvent2(pcr, EV_EVENT_TAG, digest, stageEventData(stage, version, securityVersion)));
    await tpm.extend(pcr, digest);
  }
  return Buffer.concat(events);
}
