import { MicroBatcher } from '@rampart/service-kit';
import type { AttestationRepository, PassRecord } from './attestation.repository.js';
import type { DeviceState } from './evidence-verifier.js';
import type { SpentNonces } from './nonce-store.js';

/** Largest batch per statement; far below PostgreSQL's parameter and array limits. */
const MAX_BATCH = 512;
/** Statements of one kind in flight at once: one runs while the next batch gathers. */
const CONCURRENCY = 2;

type Admission =
  { readonly kind: 'spend'; readonly nonce: string; readonly expiresAt: number } | { readonly kind: 'device'; readonly deviceId: string };

/**
 * The database work of one attestation, grouped with that of every other
 * attestation in flight: spending the nonce, the device's sighting and its
 * claim state (asked for together, so they share a batch) become one
 * statement per batch, and the pass records another — instead of several
 * statements per device. Measured by bench/attestation-throughput.js, where
 * a statement per step made PostgreSQL the largest consumer of CPU.
 */
export class AttestationBatches implements SpentNonces {
  private readonly admissions: MicroBatcher<Admission, boolean | DeviceState | undefined>;
  private readonly passes: MicroBatcher<PassRecord, undefined>;

  constructor(repository: AttestationRepository) {
    const options = { maxBatch: MAX_BATCH, concurrency: CONCURRENCY };
    this.admissions = new MicroBatcher(async (items) => {
      const spends = items.flatMap((i) => (i.kind === 'spend' ? [i] : []));
      const devices = items.flatMap((i) => (i.kind === 'device' ? [i.deviceId] : []));
      const { fresh, states } = await repository.admit(spends, devices);
      let s = 0;
      let d = 0;
      return items.map((i) => (i.kind === 'spend' ? fresh[s++] : states[d++]));
    }, options);
    this.passes = new MicroBatcher(async (records) => {
      await repository.recordPasses(records);
      return records.map(() => undefined);
    }, options);
  }

  spend(nonce: string, expiresAt: number): Promise<boolean> {
    return this.admissions.submit({ kind: 'spend', nonce, expiresAt }) as Promise<boolean>;
  }

  /**
   * The device's claim and revocation state; asking is also its sighting (it
   * presented a valid manufacturer endorsement), so an unknown device
   * becomes known.
   */
  deviceState(deviceId: string): Promise<DeviceState | undefined> {
    return this.admissions.submit({ kind: 'device', deviceId }) as Promise<DeviceState | undefined>;
  }

  recordPass(record: PassRecord): Promise<void> {
    return this.passes.submit(record);
  }
}
