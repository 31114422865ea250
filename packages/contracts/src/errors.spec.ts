import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_TABLE, ErrorCode, MqttReason, httpStatusOf, toDeviceErrorCode, toWireErrorCode, type ErrorCodeValue } from './errors.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CODES = Object.values(ErrorCode);

/** The non-test TypeScript sources of every service and of the service kit: where errors are put on the wire. */
function serviceSources(): Array<{ file: string; text: string }> {
  const roots = [
    ...readdirSync(join(REPO, 'services'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => join(REPO, 'services', d.name, 'src')),
    join(REPO, 'packages', 'service-kit', 'src'),
  ];
  return roots.flatMap((root) =>
    readdirSync(root, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.spec.ts'))
      .map((f) => ({ file: join(root, f), text: readFileSync(join(root, f), 'utf8') })),
  );
}

/** NestJS's HTTP exceptions that services throw with a `{ code, message }` body, and the status each answers with. */
const NEST_EXCEPTION_STATUS: Readonly<Record<string, number>> = {
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  ServiceUnavailable: 503,
};

describe('ERROR_TABLE', () => {
  it('lists every error code once, each with an HTTP error status', () => {
    expect(Object.keys(ERROR_TABLE).sort()).toEqual([...CODES].sort());
    expect(new Set(CODES).size).toBe(CODES.length);
    for (const code of CODES) {
      expect(httpStatusOf(code), code).toBeGreaterThanOrEqual(400);
      expect(httpStatusOf(code), code).toBeLessThan(600);
    }
  });

  it('gives an MQTT reason to the codes the gateway passes on to a device, and to INTERNAL, which any other becomes', () => {
    expect(ERROR_TABLE.RATE_LIMITED.mqtt).toBe(MqttReason.quotaExceeded);
    expect(ERROR_TABLE.INTERNAL.mqtt).toBe(MqttReason.unspecifiedError);
    for (const code of [ErrorCode.badRequest, ErrorCode.unavailable, ErrorCode.timeout, ErrorCode.rateLimited]) {
      expect(toDeviceErrorCode(code)).toBe(code);
    }
    expect(toDeviceErrorCode(ErrorCode.conflict)).toBe(ErrorCode.internal);
    expect(toDeviceErrorCode(ErrorCode.revoked)).toBe(ErrorCode.internal);
  });

  it('reads an unknown code from the wire as INTERNAL', () => {
    expect(toWireErrorCode('CONFLICT')).toBe(ErrorCode.conflict);
    expect(toWireErrorCode('NO_SUCH_CODE')).toBe(ErrorCode.internal);
    expect(toWireErrorCode(404)).toBe(ErrorCode.internal);
  });

  /**
   * Domain errors, bus errors and the update server's refusals take a typed code, so an unknown one does not compile;
   * NestJS's HTTP exceptions take any body, so their literal codes (and statuses) are checked here.
   */
  it("holds every code a service's HTTP exception sends, with the exception's status", () => {
    const thrown: Array<{ file: string; exception: string; code: string }> = [];
    for (const { file, text } of serviceSources()) {
      for (const match of text.matchAll(/new (\w+)Exception\(\{\s*code: '([A-Z_]+)'/g)) {
        thrown.push({ file, exception: match[1]!, code: match[2]! });
      }
    }
    // The scan must see the guards' and controllers' exceptions, or it proves nothing.
    expect(new Set(thrown.map((t) => t.code))).toEqual(
      new Set(['BAD_REQUEST', 'UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'UNAVAILABLE']),
    );
    for (const { file, exception, code } of thrown) {
      expect(CODES, `${file}: ${code}`).toContain(code);
      expect(NEST_EXCEPTION_STATUS[exception], `${file}: ${exception}Exception for ${code}`).toBe(httpStatusOf(code as ErrorCodeValue));
    }
  });

  it('finds no code literal in service code outside an HTTP exception that the table does not hold', () => {
    const unknown: string[] = [];
    let seen = 0;
    for (const { file, text } of serviceSources()) {
      for (const match of text.matchAll(/\bcode: '([A-Z][A-Z_]+)'/g)) {
        seen++;
        if (!(CODES as readonly string[]).includes(match[1]!)) unknown.push(`${file}: ${match[1]}`);
      }
    }
    expect(seen).toBeGreaterThan(0);
    expect(unknown).toEqual([]);
  });
});
