import { ApiHttpError, ApiUnreachableError } from '@rampart/api-client';
import { describe, expect, it } from 'vitest';
import { errorMessage } from './errors.js';

describe(errorMessage.name, () => {
  it("prints the API's message with the status, escaping the controls and BiDi marks a device may have sent", () => {
    const error = new ApiHttpError('GET', '/v1/failure-buckets/x', 409, 'bucket "seg\x1b]8;;http://evil\x07fault\u202e" is closed', {});
    expect(errorMessage(error)).toBe('error: bucket "seg\\x1b]8;;http://evil\\x07fault\\u202e" is closed (HTTP 409)');
  });

  it('keeps the line feeds of a multi-line message and names an unreachable API', () => {
    expect(errorMessage(new Error('"ab" matches 2 devices:\n  ab12\x9b2J\n  ab34'))).toBe(
      'error: "ab" matches 2 devices:\n  ab12\\x9b2J\n  ab34',
    );
    expect(errorMessage(new ApiUnreachableError('http://127.0.0.1:1', 'ECONNREFUSED'))).toBe(
      'error: cannot reach http://127.0.0.1:1 (ECONNREFUSED)',
    );
    expect(errorMessage('plain')).toBe('error: plain');
  });
});
