import { describe, expect, it } from 'vitest';
import { Admission } from './admission.js';

describe(Admission.name, () => {
  it('hands out at most maxInFlight slots and queues at most maxWaiting', async () => {
    const admission = new Admission(2, 1);
    expect(admission.tryAcquire()).toBe(true);
    expect(await admission.acquire()).toBe(true);
    const waiting = admission.acquire();
    expect(admission.queued).toBe(1);
    expect(await admission.acquire()).toBe(false);
    admission.release();
    expect(await waiting).toBe(true);
    expect(admission.active).toBe(2);
    admission.release();
    admission.release();
    expect(admission.active).toBe(0);
  });
});
