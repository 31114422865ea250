import { describe, expect, it } from 'vitest';
import { DAY_MS, cohortWindow } from './cohort-window.js';

describe(cohortWindow.name, () => {
  const now = new Date('2026-03-10T12:00:00Z');

  it('ends now and starts the default days before when the query names neither end', () => {
    expect(cohortWindow({}, 30, now)).toEqual({ since: new Date(now.getTime() - 30 * DAY_MS), until: now });
  });

  it('counts the default days back from the end the query names', () => {
    const to = new Date('2026-01-01T00:00:00Z');
    expect(cohortWindow({ to }, 7, now)).toEqual({ since: new Date('2025-12-25T00:00:00Z'), until: to });
  });

  it('keeps both ends the query names', () => {
    const from = new Date('2026-02-01T00:00:00Z');
    const to = new Date('2026-02-02T00:00:00Z');
    expect(cohortWindow({ from, to }, 7, now)).toEqual({ since: from, until: to });
  });
});
