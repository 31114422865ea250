import { describe, expect, it } from 'vitest';
import { HostileInputPipe, MAX_INPUT_DEPTH } from './hostile-input.pipe.js';
import { InvalidRequestError } from './invalid-request.error.js';

describe(HostileInputPipe.name, () => {
  const pipe = new HostileInputPipe();
  const body = { type: 'body' } as const;

  it('passes ordinary input through unchanged', () => {
    const value = { name: 'Küche 🦄', tags: ['a', 'b'], n: 1, nested: { ok: true } };
    expect(pipe.transform(value, body)).toBe(value);
  });

  it('refuses a NUL anywhere: a value, a nested value, a key, a query or a path parameter', () => {
    for (const [value, type] of [
      [{ name: 'a\u0000b' }, 'body'],
      [{ a: [{ b: '\u0000' }] }, 'body'],
      [{ 'a\u0000': 1 }, 'body'],
      [{ version: '\u0000' }, 'query'],
      ['\u0000', 'param'],
    ] as const) {
      expect(() => pipe.transform(value, { type }), JSON.stringify(value)).toThrow(InvalidRequestError);
    }
  });

  it('refuses a lone surrogate', () => {
    expect(() => pipe.transform({ name: 'a\ud800' }, body)).toThrow(InvalidRequestError);
  });

  it('refuses keys that reach a prototype, at any depth', () => {
    for (const json of ['{"__proto__":{"polluted":true}}', '{"a":{"constructor":{"prototype":{}}}}', '{"a":[{"prototype":1}]}']) {
      expect(() => pipe.transform(JSON.parse(json), body), json).toThrow(InvalidRequestError);
    }
  });

  it('refuses nesting deeper than any route takes, without walking it all', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown;
    let refusal: unknown;
    try {
      pipe.transform(deep, body);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(InvalidRequestError);
    expect((refusal as InvalidRequestError).details).toEqual([`body: nested deeper than ${MAX_INPUT_DEPTH} levels`]);
  });

  it('leaves message-bus payloads to their own contracts', () => {
    expect(pipe.transform({ name: '\u0000' }, { type: 'custom' })).toEqual({ name: '\u0000' });
  });
});
