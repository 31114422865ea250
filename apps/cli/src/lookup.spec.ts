import { describe, expect, it } from 'vitest';
import { LookupError, pick, type Candidate } from './lookup.js';

const products: Candidate[] = [
  { id: 'aaaa1111-0000-4000-8000-000000000001', names: ['Thermo'], label: 'aaaa1111 Thermo' },
  { id: 'aaaa2222-0000-4000-8000-000000000002', names: ['Hygro'], label: 'aaaa2222 Hygro' },
  { id: 'bbbb3333-0000-4000-8000-000000000003', names: ['Hygro'], label: 'bbbb3333 Hygro' },
];

describe(pick.name, () => {
  it('takes a full id, a name, or a unique prefix of four or more characters', () => {
    expect(pick('product', 'aaaa2222-0000-4000-8000-000000000002', products)).toBe(products[1]!.id);
    expect(pick('product', 'Thermo', products)).toBe(products[0]!.id);
    expect(pick('product', 'bbbb', products)).toBe(products[2]!.id);
    expect(pick('product', 'AAAA1', products)).toBe(products[0]!.id);
  });

  it('lists the candidates when a name or prefix is ambiguous', () => {
    expect(() => pick('product', 'Hygro', products)).toThrow(LookupError);
    expect(() => pick('product', 'Hygro', products)).toThrow(/"Hygro" matches 2 products[\s\S]*aaaa2222 Hygro[\s\S]*bbbb3333 Hygro/);
    expect(() => pick('product', 'aaaa', products)).toThrow(/"aaaa" matches 2 products/);
  });

  it('names what was searched when nothing matches, and never takes a prefix shorter than four', () => {
    expect(() => pick('product', 'bbb', products)).toThrow(
      'no product matches "bbb" (searched 3 products by id, name or id prefix (≥ 4 characters))',
    );
    expect(() => pick('deployment', '../images', [])).toThrow(
      'no deployment matches "../images" (searched 0 deployments by id or id prefix (≥ 4 characters))',
    );
  });
});
