import { describe, expect, it } from 'vitest';
import { formatted, isoTimes, relative, renderTable } from './format.js';
import { safeLine, safeLines } from './safe-text.js';
import { deploymentView, imageView, verdictView } from './views.js';

const now = Date.parse('2026-12-02T06:00:00Z');
const image = {
  sha256: 'ab'.repeat(32),
  component: 'os',
  version: '2.0.0',
  securityVersion: 2,
  hardware: 'mt3620',
  status: 'released',
  osFeed: null,
  createdAt: '2026-12-02T05:57:00Z',
};

describe(renderTable.name, () => {
  it('pads columns to the widest cell, shortens digests and shows relative ages', () => {
    expect(renderTable([image], imageView, { wide: false, now }).split('\n')).toEqual([
      'DIGEST         COMPONENT   VERSION   SECURITY VERSION   STATUS     AGE',
      'abababababab   os          2.0.0     2                  released   3m ago',
    ]);
  });

  it('adds the wide columns with full digests and ISO times', () => {
    const [header, row] = renderTable([image], imageView, { wide: true, now }).split('\n');
    expect(header).toMatch(/FEED\s+HARDWARE\s+AGE$/);
    expect(row).toContain('ab'.repeat(32));
    expect(row).toMatch(/2026-12-02T05:57:00\.000Z$/);
  });

  it('shows controls and BiDi marks in cells as visible escapes, and line breaks as spaces', () => {
    const title = 'panic \x1b[2J\x1b]0;owned\x07 at\r\n  main.c \u202eexe';
    const row = renderTable([{ ...image, version: title }], imageView, { wide: false, now }).split('\n')[1]!;
    expect(row).toContain('panic \\x1b[2J\\x1b]0;owned\\x07 at main.c \\u202eexe');
    expect(safeLine(row), 'nothing left to escape').toBe(row);
  });

  it('shows the evidence kind of each verdict in the attestation log, and - where the evidence could not be read', () => {
    const verdicts = [
      { deviceId: 'cd'.repeat(32), at: '2026-12-02T05:59:00Z', pass: true, reasons: [], kind: 'psa-token' },
      { deviceId: 'ef'.repeat(32), at: '2026-12-02T05:58:00Z', pass: false, reasons: ['MALFORMED_EVIDENCE'], kind: null },
    ];
    const [header, passed, refused] = renderTable(verdicts, verdictView, { wide: false, now }).split('\n');
    expect(header).toMatch(/^DEVICE\s+VERDICT\s+EVIDENCE\s+REASONS\s+AT$/);
    expect(passed).toMatch(/\spass\s+psa-token\s+-\s+1m ago$/);
    expect(refused).toMatch(/\sfail\s+-\s+MALFORMED_EVIDENCE\s+2m ago$/);
  });

  it('prints the empty message for no rows', () => {
    expect(renderTable([], imageView, { wide: false, now })).toBe('No images.');
  });

  it('sums a deployment counts into INSTALLED/FAILED/PENDING and shows the wave 1-based', () => {
    const table = renderTable(
      [
        {
          id: '0123456789abcdef',
          groupId: 'g',
          group: 'Thermo/Field Test',
          images: [],
          state: 'active',
          currentWave: 0,
          waves: 3,
          createdAt: '2026-12-02T04:00:00Z',
          endedAt: null,
          reason: null,
          counts: { installed: 2, failed: 1, 'timed-out': 1, pending: 3, notified: 1 },
        },
      ],
      deploymentView,
      { wide: false, now },
    );
    expect(table.split('\n')[1]).toMatch(/^01234567\s+Thermo\/Field Test\s+active\s+1\/3\s+2\/2\/4\s+2h ago$/);
  });
});

describe(relative.name, () => {
  it('says seconds, minutes, hours, then days, and the future', () => {
    expect(relative(now - 45_000, now)).toBe('45s ago');
    expect(relative(now - 3 * 60_000, now)).toBe('3m ago');
    expect(relative(now - 5 * 3_600_000, now)).toBe('5h ago');
    expect(relative(now - 12 * 86_400_000, now)).toBe('12d ago');
    expect(relative(now + 120_000, now)).toBe('in 2m');
  });
});

describe(formatted.name, () => {
  it('turns epoch-ms times into ISO 8601 in json and yaml', async () => {
    const value = { deviceId: 'd', lastSeen: now, readings: 5, metrics: [{ metric: 't', value: 1, ts: now }] };
    expect(isoTimes(value)).toEqual({
      deviceId: 'd',
      lastSeen: '2026-12-02T06:00:00.000Z',
      readings: 5,
      metrics: [{ metric: 't', value: 1, ts: '2026-12-02T06:00:00.000Z' }],
    });
    expect(JSON.parse(await formatted('json', value, imageView as never))).toMatchObject({ lastSeen: '2026-12-02T06:00:00.000Z' });
    expect(await formatted('yaml', value, imageView as never)).toContain('lastSeen: 2026-12-02T06:00:00.000Z');
  });

  it('escapes DEL, C1 and BiDi marks in json (the same value to a parser)', async () => {
    const value = { title: 'a\u202eb\x9bc\x1bd\x7f' };
    const text = await formatted('json', value, imageView as never);
    expect(safeLines(text), 'nothing left to escape').toBe(text);
    expect(JSON.parse(text)).toEqual(value);
  });
});
