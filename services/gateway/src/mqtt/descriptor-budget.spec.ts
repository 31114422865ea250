import { describe, expect, it } from 'vitest';
import { RESERVED_DESCRIPTORS, connectionCapWithin, openFileLimitFrom } from './descriptor-budget.js';

const limits = (soft: string) =>
  [
    'Limit                     Soft Limit           Hard Limit           Units',
    'Max processes             unlimited            unlimited            processes',
    `Max open files            ${soft}                20000                files`,
  ].join('\n');

describe(connectionCapWithin.name, () => {
  it('reads the soft open-file limit, and nothing when it is unlimited', () => {
    expect(openFileLimitFrom(limits('20000'))).toBe(20_000);
    expect(openFileLimitFrom(limits('unlimited'))).toBeUndefined();
    expect(openFileLimitFrom('')).toBeUndefined();
  });

  it('lowers a cap the descriptor limit cannot hold, keeping descriptors back for the rest of the process', () => {
    expect(connectionCapWithin(50_000, 20_000)).toBe(20_000 - RESERVED_DESCRIPTORS);
    expect(connectionCapWithin(5_000, 20_000)).toBe(5_000);
    expect(connectionCapWithin(50_000, undefined)).toBe(50_000);
  });
});
