import { describe, expect, it } from 'vitest';
import { Ids, MAX_INSTANT_MS, decimalInteger, instantDate, instantMs, storableText, text } from './edge-input.js';
import { DeviceFailureReportSchema } from './failures.js';

describe('text', () => {
  const name = text({ min: 1, max: 10 });
  const description = text({ max: 20, multiline: true });

  it('takes bounded text, any script', () => {
    expect(name.parse('Küche 🦄')).toBe('Küche 🦄');
  });

  it('refuses NUL and every other control character', () => {
    for (const bad of ['a\u0000b', '\u0000', 'a\u0007', 'a\u007f', 'a\u0085', 'a\tb', 'a\nb'])
      expect(name.safeParse(bad).success).toBe(false);
  });

  it('lets multi-line text hold line breaks and tabs, never NUL', () => {
    expect(description.parse('line one\r\n\tline two')).toBe('line one\r\n\tline two');
    expect(description.safeParse('line\u0000').success).toBe(false);
  });

  it('refuses a lone surrogate, which the database would store as U+FFFD', () => {
    expect(name.safeParse('a\ud800').success).toBe(false);
  });

  it('keeps the length bounds', () => {
    expect(name.safeParse('').success).toBe(false);
    expect(name.safeParse('x'.repeat(11)).success).toBe(false);
  });
});

describe('decimalInteger', () => {
  const limit = decimalInteger({ min: 1, max: 1_000 });

  it('reads plain decimal digits', () => {
    expect(limit.parse('25')).toBe(25);
  });

  it('refuses what Number() would read as a number', () => {
    for (const bad of ['0x10', '', ' 5', '5 ', '1e3', '1.0', '+5', 'Infinity', '0b1', '1_000']) {
      expect(limit.safeParse(bad).success, bad).toBe(false);
    }
  });

  it('keeps the range, however many digits', () => {
    for (const bad of ['0', '-1', '1001', '9'.repeat(400)]) expect(limit.safeParse(bad).success, bad).toBe(false);
  });
});

describe('instantMs', () => {
  it('reads epoch milliseconds and ISO 8601', () => {
    expect(instantMs.parse('1700000000000')).toBe(1_700_000_000_000);
    expect(instantMs.parse('2026-01-02T03:04:05.678Z')).toBe(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
    expect(instantMs.parse('2026-01-02T03:04:05+02:00')).toBe(Date.UTC(2026, 0, 2, 1, 4, 5));
    expect(instantDate.parse('9999-12-31T23:59:59.999Z').getTime()).toBe(MAX_INSTANT_MS);
  });

  it('refuses dates outside what PostgreSQL and JavaScript both hold, and anything that is not a date', () => {
    for (const bad of [
      '-271821-04-20T00:00:00Z',
      '+275760-09-13T00:00:00Z',
      '10000-01-01T00:00:00Z',
      '99999999999999999999',
      '-1',
      '1969-12-31T23:59:59Z',
      'tomorrow',
      '',
      '2026-01-01T00:00:00Z\u0000',
      '2026-13-45',
    ]) {
      expect(instantMs.safeParse(bad).success, bad).toBe(false);
    }
  });
});

describe('Ids', () => {
  it('holds each identifier to its one shape', () => {
    expect(Ids.device.safeParse('a'.repeat(64)).success).toBe(true);
    expect(Ids.device.safeParse(`${'a'.repeat(63)}\u0000`).success).toBe(false);
    expect(Ids.tenant.safeParse('acme').success).toBe(true);
    expect(Ids.tenant.safeParse('Acme').success).toBe(false);
    expect(Ids.bucket.safeParse('0'.repeat(32)).success).toBe(true);
    expect(Ids.bucket.safeParse('g'.repeat(32)).success).toBe(false);
    expect(Ids.uuid.safeParse('00000000-0000-4000-8000-000000000000').success).toBe(true);
  });
});

describe('storableText', () => {
  const message = storableText({ max: 50 });

  it('takes what a machine writes, line breaks and escapes included', () => {
    expect(message.parse('TypeError: boom\n\tat tick (\u001b[31mapp\u001b[0m)')).toContain('boom');
  });

  it('refuses what PostgreSQL cannot store: NUL, a lone surrogate', () => {
    expect(message.safeParse('boom\u0000').success).toBe(false);
    expect(message.safeParse('boom\udc00').success).toBe(false);
  });

  it("is what a device's failure report is held to, so the gateway refuses such a report at the edge", () => {
    const report = {
      seq: 1,
      at: 1,
      kind: 'app-crash',
      component: 'app:sensor',
      version: '1.1.0',
      exitCode: 1,
      signal: null,
      message: 'boom\nline two',
      frames: [],
    };
    expect(DeviceFailureReportSchema.safeParse(report).success).toBe(true);
    expect(DeviceFailureReportSchema.safeParse({ ...report, message: 'boom\u0000' }).success).toBe(false);
    expect(DeviceFailureReportSchema.safeParse({ ...report, version: '1.1.0\u0000' }).success).toBe(false);
  });
});
