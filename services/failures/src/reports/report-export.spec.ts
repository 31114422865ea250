import { describe, expect, it } from 'vitest';
import { csvCell } from './report-export.js';

describe(csvCell.name, () => {
  it('quotes a cell with a quote, comma or line break (RFC 4180) and writes objects as JSON', () => {
    expect(csvCell('plain')).toBe('plain');
    expect(csvCell('a "b", c')).toBe('"a ""b"", c"');
    expect(csvCell('one\ntwo')).toBe('"one\ntwo"');
    expect(csvCell(null)).toBe('');
    expect(csvCell([{ line: 1 }])).toBe('"[{""line"":1}]"');
  });

  it('turns device text a spreadsheet would run as a formula into text, and leaves numbers alone', () => {
    for (const hostile of ['=HYPERLINK("http://x","y")', '+1+1', '-2+3', '@SUM(A1)', '\tcmd', '\r=1']) {
      expect(csvCell(hostile).replace(/^"/, ''), hostile).toMatch(/^'/);
    }
    expect(csvCell('=1,2')).toBe(`"'=1,2"`);
    expect(csvCell(-11)).toBe('-11');
    expect(csvCell('crash at =line')).toBe('crash at =line');
  });
});
