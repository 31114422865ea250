import { describe, expect, it } from 'vitest';
import { safeLine, safeLines } from './safe-text.js';

describe(safeLine.name, () => {
  it('shows ESC, other C0 and C1 controls and DEL as visible escapes', () => {
    expect(safeLine('crash \x1b]0;pwned\x07 in \x1b[2Jmain')).toBe('crash \\x1b]0;pwned\\x07 in \\x1b[2Jmain');
    expect(safeLine('a\rb\tc\nd\x7f\x9b31m\x85')).toBe('a\\rb\\tc\\nd\\x7f\\x9b31m\\x85');
  });

  it('shows BiDi overrides, isolates and marks as visible escapes', () => {
    expect(safeLine('ok \u202eexe.txt\u202c \u2066x\u2069 \u200f\u061c')).toBe('ok \\u202eexe.txt\\u202c \\u2066x\\u2069 \\u200f\\u061c');
  });

  it('leaves printable text, accents, CJK and emoji alone', () => {
    const text = 'Größe ≥ 5 % — 温度 🔥 \\x1b literal';
    expect(safeLine(text)).toBe(text);
  });
});

describe(safeLines.name, () => {
  it('keeps line feeds but escapes every other control', () => {
    expect(safeLines('"ab" matches 2 devices:\n  ab12\x1b[8m\n  ab34\r')).toBe('"ab" matches 2 devices:\n  ab12\\x1b[8m\n  ab34\\r');
  });
});
