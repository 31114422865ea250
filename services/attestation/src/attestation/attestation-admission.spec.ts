import { metrics } from '@opentelemetry/api';
import { ErrorCode } from '@rampart/contracts';
import { createLogger, type Clock } from '@rampart/service-kit';
import { describe, expect, it } from 'vitest';
import { AttestationAdmission } from './attestation-admission.js';

const LIMITS = { deviceRatePerMinute: 60, deviceBurst: 10, maxConcurrent: 4, maxWaiting: 4, defaultDeadlineMs: 10_000 };
const DEVICE = 'd'.repeat(64);

function admissionAt(nowMs: number): AttestationAdmission {
  const clock: Clock = { now: () => nowMs };
  return new AttestationAdmission(LIMITS, clock, createLogger('attestation', 'silent'), metrics.getMeter('test'));
}

describe(AttestationAdmission.name, () => {
  it("takes how long the requester still waits, so a service whose clock is an hour off the gateway's still does the work", async () => {
    // The gateway's clock plays no part: only the time left travels. (An epoch deadline from a gateway an hour behind
    // would have looked expired here.)
    const admission = admissionAt(Date.UTC(2030, 0, 1));
    await expect(admission.admit(DEVICE, 5_000, () => Promise.resolve('done'))).resolves.toBe('done');
  });

  it('drops unstarted a request whose requester has no time left', async () => {
    let ran = false;
    const work = () => {
      ran = true;
      return Promise.resolve('done');
    };
    await expect(admissionAt(Date.now()).admit(DEVICE, 0, work)).rejects.toMatchObject({ code: ErrorCode.timeout });
    expect(ran).toBe(false);
  });
});
