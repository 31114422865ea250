import { describe, expect, it } from 'vitest';
import { parseWaves } from './waves.js';

describe(parseWaves.name, () => {
  it('reads cumulative percents and exponential shorthands', () => {
    expect(parseWaves('1,10,100')).toEqual({ kind: 'percent', percents: [1, 10, 100] });
    expect(parseWaves('exp:5x2')).toEqual({ kind: 'exponential', first: 5, factor: 2 });
  });

  it('refuses anything else, naming both forms', () => {
    expect(() => parseWaves('many')).toThrow(
      '--waves: "many" is neither cumulative percents 1–100 (e.g. 1,10,100) nor exp:<first>x<factor> (e.g. exp:5x2)',
    );
    expect(() => parseWaves('10,,100')).toThrow(/--waves/);
    expect(() => parseWaves('0,200')).toThrow(/--waves/);
  });
});
