import { Body, Controller, Get, Module, Post, UnauthorizedException } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ErrorCode } from '@rampart/contracts';
import { TokenLoginError } from '@rampart/trust';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InProcessBus } from './bus/in-process-bus.js';
import { DomainError } from './domain-error.js';
import { HttpErrorFilter } from './http-error.filter.js';
import { createHttpApp } from './http-service.js';
import { InvalidRequestError } from './invalid-request.error.js';
import { createLogger } from './logger.js';
import { closeServiceRuntime, createServiceRuntime, runtimeProviders } from './service-runtime.js';
import { signingOrUnavailable } from './signing/index.js';

const PIN_FILE = '/run/secrets/rampart-hsm/pin';
const KEY_LABEL = 'rampart/acme/tuf-targets';

class WidgetTakenError extends DomainError {
  override readonly name = 'WidgetTakenError';
  readonly code = ErrorCode.conflict;
}

@Controller('v1')
class FailingController {
  @Get('taken')
  taken(): never {
    throw new WidgetTakenError('the widget name is taken');
  }

  @Get('invalid')
  invalid(): never {
    throw new InvalidRequestError('invalid request', ['name: too long']);
  }

  @Get('nest-unauthorized')
  nestUnauthorized(): never {
    throw new UnauthorizedException();
  }

  @Get('token-locked')
  tokenLocked(): Promise<never> {
    return signingOrUnavailable(() => Promise.reject(new TokenLoginError('rampart-updates', `cannot read ${PIN_FILE}`, KEY_LABEL)));
  }

  @Get('bug')
  bug(): never {
    throw new TypeError('secret internals');
  }

  @Post('echo')
  echo(@Body() body: unknown): unknown {
    return body;
  }
}

describe(HttpErrorFilter.name, () => {
  let url: string;
  let close: () => Promise<void>;
  const logged: string[] = [];

  beforeAll(async () => {
    const runtime = await createServiceRuntime({
      name: 'filtered',
      logger: createLogger('filtered', 'warn', { write: (line: string) => void logged.push(line) }),
      busPrefix: '',
      sharedBus: new InProcessBus(),
    });
    @Module({
      controllers: [FailingController],
      providers: [...runtimeProviders(runtime), { provide: APP_FILTER, useValue: new HttpErrorFilter(runtime.logger) }],
    })
    class FilteredModule {}
    const http = await createHttpApp({ runtime, module: FilteredModule });
    url = await http.listen('127.0.0.1', 0);
    close = async () => {
      await http.close();
      await closeServiceRuntime(runtime);
    };
  });

  afterAll(async () => {
    await close?.();
  });

  async function answer(path: string, init?: RequestInit): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${url}${path}`, init);
    return { status: response.status, body: await response.json() };
  }

  it("answers a domain error with its code and the table's status for it", async () => {
    expect(await answer('/v1/taken')).toEqual({ status: 409, body: { code: 'CONFLICT', message: 'the widget name is taken' } });
  });

  it("sends a bad request's details beside its message", async () => {
    expect(await answer('/v1/invalid')).toEqual({
      status: 400,
      body: { code: 'BAD_REQUEST', message: 'invalid request', details: ['name: too long'] },
    });
  });

  it("keeps the status of Nest's own answers and takes the table's code for it, not BAD_REQUEST", async () => {
    expect(await answer('/v1/nothing-here')).toMatchObject({ status: 404, body: { code: 'NOT_FOUND' } });
    expect(await answer('/v1/nest-unauthorized')).toMatchObject({ status: 401, body: { code: 'UNAUTHENTICATED' } });
    const tooLarge = await answer('/v1/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      // Over the JSON body parser's default limit (100 kB).
      body: JSON.stringify({ padding: 'x'.repeat(200_000) }),
    });
    expect(tooLarge).toMatchObject({ status: 413, body: { code: 'TOO_LARGE' } });
  });

  it('answers a key that cannot sign with fixed words, and logs which key and why (the PIN file, the token) only here', async () => {
    const answered = await answer('/v1/token-locked');
    expect(answered).toEqual({ status: 503, body: { code: 'UNAVAILABLE', message: 'signing key unavailable; retry later' } });
    for (const secret of [PIN_FILE, KEY_LABEL, 'rampart-updates', 'TokenLoginError'])
      expect(JSON.stringify(answered)).not.toContain(secret);
    const line = logged.find((l) => l.includes('SigningUnavailableError'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({
      level: 'warn',
      code: 'UNAVAILABLE',
      err: { detail: expect.stringContaining(PIN_FILE), key: KEY_LABEL },
    });
  });

  it('answers anything else as INTERNAL with no detail', async () => {
    expect(await answer('/v1/bug')).toEqual({ status: 500, body: { code: 'INTERNAL', message: 'internal error' } });
  });
});
