/**
 * The hostile values the input fuzz sends. Each is either a string (sent
 * percent-encoded in a path or query, or as a JSON string in a body), raw
 * already-encoded URL text (bytes no encoder would produce), or raw JSON
 * text for one body field.
 */
export interface HostileValue {
  readonly label: string;
  /** The value as a string: percent-encoded in URLs, JSON-encoded in bodies. */
  readonly text?: string;
  /** Sent into a URL as is (already percent-encoded). */
  readonly rawUrl?: string;
  /** Put into a JSON body as is, for one field. */
  readonly rawJson?: string;
}

const forgedCursor = Buffer.from(JSON.stringify(['-271821-04-20T00:00:00.000Z', 'k\u0000'])).toString('base64url');

/** Strings: wrong types as text, NUL and control characters, numbers Number() misreads, extreme dates, long and odd text. */
export const HOSTILE_STRINGS: readonly HostileValue[] = [
  { label: 'empty', text: '' },
  { label: 'space', text: ' ' },
  { label: 'NUL', text: '\u0000' },
  { label: 'NUL inside', text: 'a\u0000b' },
  { label: 'control characters', text: 'a\u0001\u001b[31m\u007f\u0085' },
  { label: 'CRLF header injection', text: 'x\r\nX-Injected: 1' },
  { label: 'hex number', text: '0x10' },
  { label: 'exponent', text: '1e3' },
  { label: 'fraction', text: '1.5' },
  { label: 'negative', text: '-1' },
  { label: 'minus zero', text: '-0' },
  { label: 'NaN', text: 'NaN' },
  { label: 'Infinity', text: 'Infinity' },
  { label: 'past MAX_SAFE_INTEGER', text: '9007199254740993' },
  { label: 'past PostgreSQL timestamps in ms', text: '99999999999999999' },
  { label: 'huge', text: '9'.repeat(400) },
  { label: 'huge negative', text: `-${'9'.repeat(40)}` },
  { label: 'earliest JS date', text: '-271821-04-20T00:00:00Z' },
  { label: 'latest JS date', text: '+275760-09-13T00:00:00Z' },
  { label: 'year 10000', text: '10000-01-01T00:00:00Z' },
  { label: 'year 0', text: '0000-01-01T00:00:00Z' },
  { label: 'not a date', text: '2026-13-45T25:61:61Z' },
  { label: 'long', text: 'x'.repeat(5_000) },
  { label: 'unicode', text: 'Ünïcødé 🦄 \u202e\u200b漢字' },
  { label: 'lone surrogate (JSON only)', rawJson: '"a\\ud800b"' },
  { label: 'invalid UTF-8', rawUrl: '%ED%A0%80' },
  { label: 'invalid percent-encoding', rawUrl: '%E0%A4%A' },
  { label: 'encoded NUL', rawUrl: 'a%00b' },
  { label: 'path traversal', text: '../../../etc/passwd' },
  { label: 'SQL', text: "' OR '1'='1' --" },
  { label: '__proto__', text: '__proto__' },
  { label: 'constructor', text: 'constructor' },
  { label: 'forged cursor', text: forgedCursor },
  { label: 'nil UUID', text: '00000000-0000-0000-0000-000000000000' },
  { label: 'upper-case hex id', text: 'A'.repeat(64) },
];

/**
 * Numbers as `Number()` reads them but no one writes them in a query: a
 * parameter that takes `7` and refuses `abc` is a number, and must refuse these.
 */
export const MISWRITTEN_NUMBERS: readonly string[] = ['0x7', '', ' 7', '7 ', '7e0', '7.0', '+7', '0b111', '0o7'];

/** Body field values of every JSON type, and shapes that reach prototypes or nest without end. */
export const HOSTILE_JSON: readonly HostileValue[] = [
  { label: 'null', rawJson: 'null' },
  { label: 'true', rawJson: 'true' },
  { label: 'zero', rawJson: '0' },
  { label: 'negative', rawJson: '-1' },
  { label: 'fraction', rawJson: '1.5' },
  { label: 'huge number', rawJson: '1e308' },
  { label: 'huge negative number', rawJson: '-1e308' },
  { label: 'past MAX_SAFE_INTEGER', rawJson: '9007199254740993' },
  { label: 'array', rawJson: '[]' },
  { label: 'array of NUL', rawJson: '["\\u0000"]' },
  { label: 'object', rawJson: '{}' },
  { label: '__proto__ object', rawJson: '{"__proto__":{"polluted":true}}' },
  { label: 'constructor.prototype object', rawJson: '{"constructor":{"prototype":{"polluted":true}}}' },
  { label: 'deep nesting', rawJson: `${'['.repeat(5_000)}${']'.repeat(5_000)}` },
];

/** Whole request bodies for routes that take one. */
export const HOSTILE_BODIES: ReadonlyArray<{ readonly label: string; readonly contentType: string; readonly body: string | Buffer }> = [
  { label: 'JSON null', contentType: 'application/json', body: 'null' },
  { label: 'JSON array', contentType: 'application/json', body: '[]' },
  { label: 'JSON string', contentType: 'application/json', body: '"text"' },
  { label: 'JSON number', contentType: 'application/json', body: '0' },
  { label: 'empty JSON object', contentType: 'application/json', body: '{}' },
  { label: 'broken JSON', contentType: 'application/json', body: '{"a":' },
  { label: '__proto__ key', contentType: 'application/json', body: '{"__proto__":{"polluted":true}}' },
  { label: 'constructor.prototype key', contentType: 'application/json', body: '{"constructor":{"prototype":{"polluted":true}}}' },
  { label: 'deep nesting', contentType: 'application/json', body: `${'{"a":'.repeat(3_000)}1${'}'.repeat(3_000)}` },
  { label: 'NUL key', contentType: 'application/json', body: '{"\\u0000":1}' },
  { label: 'form with NUL', contentType: 'application/x-www-form-urlencoded', body: 'name=a%00b&reason=a%00b&id=a%00b' },
  {
    label: 'form with __proto__',
    contentType: 'application/x-www-form-urlencoded',
    body: '__proto__[polluted]=1&a[__proto__][polluted]=1',
  },
  { label: 'JSON in UTF-16', contentType: 'application/json; charset=utf-16', body: '{"name":"x"}' },
  { label: 'text', contentType: 'text/plain', body: 'hello' },
  { label: 'binary', contentType: 'application/octet-stream', body: Buffer.from([0, 1, 2, 0xff, 0xfe, 0, 0x80]) },
  { label: 'empty binary', contentType: 'application/octet-stream', body: Buffer.alloc(0) },
  { label: 'JSON over the size limit', contentType: 'application/json', body: `{"name":"${'x'.repeat(2_000_000)}"}` },
];
