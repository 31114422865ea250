import { randomBytes } from 'node:crypto';
import { Controller, Get, Module, Post } from '@nestjs/common';
import { APP_GUARD, Reflector } from '@nestjs/core';
import {
  InProcessBus,
  Public,
  Requires,
  closeServiceRuntime,
  createHttpApp,
  createLogger,
  createServiceRuntime,
  openDatabase,
  runtimeProviders,
} from '@rampart/service-kit';
import { createTestDatabase, type TestDatabase } from '@rampart/testing';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthGuard, hashToken } from '../src/access/auth.guard.js';
import { AttestationRepository } from '../src/attestation/attestation.repository.js';
import { attestationDatabase } from '../src/migrations/index.js';

@Controller('v1')
class UndeclaredController {
  @Get('forgotten')
  forgotten(): string {
    return 'this should never run';
  }
}

@Controller('v1')
class DeclaredController {
  @Get('things')
  @Requires('Reader')
  things(): string[] {
    return [];
  }

  @Post('things')
  @Requires('Reader')
  create(): string {
    return 'created';
  }

  @Get('open')
  @Public()
  open(): string {
    return 'open';
  }

  @Get('me')
  @Requires('Authenticated')
  me(): string {
    return 'me';
  }

  @Post('me')
  @Requires('Authenticated')
  changeMe(): string {
    return 'changed';
  }
}

/** The attestation service's guard over its real token table: deny by default, on the matched route. */
describe(AuthGuard.name, () => {
  let db: TestDatabase;
  let dataSource: DataSource;
  let service: { url: string; close(): Promise<void> };
  const operator = randomBytes(24).toString('hex');
  const reader = `rmp_${randomBytes(24).toString('base64url')}`;
  const call = (path: string, init: RequestInit = {}) => fetch(`${service.url}${path}`, init);

  beforeAll(async () => {
    db = await createTestDatabase();
    const logger = createLogger('attestation', 'silent');
    dataSource = await openDatabase({ url: db.url, ...attestationDatabase }, logger);
    const repository = new AttestationRepository(dataSource);
    await repository.createTenant('acme', 'acme');
    await repository.createToken('acme', 'Reader', hashToken(reader));
    const runtime = await createServiceRuntime({ name: 'attestation', logger, busPrefix: '', sharedBus: new InProcessBus() });
    const denials = runtime.observability.meter.createCounter('rampart_attestation_api_denials_total');
    @Module({
      controllers: [UndeclaredController, DeclaredController],
      providers: [
        ...runtimeProviders(runtime),
        {
          provide: APP_GUARD,
          inject: [Reflector],
          useFactory: (reflector: Reflector) => new AuthGuard(reflector, repository, operator, logger, denials),
        },
      ],
    })
    class GuardedModule {}
    const http = await createHttpApp({ runtime, module: GuardedModule });
    service = {
      url: await http.listen('127.0.0.1', 0),
      close: async () => {
        await http.close();
        await closeServiceRuntime(runtime);
      },
    };
  });

  afterAll(async () => {
    await service?.close();
    await dataSource?.destroy();
    await db?.drop();
  });

  it('refuses a route that declares no requirement, even to the platform operator', async () => {
    for (const token of [operator, reader]) {
      const response = await call('/v1/forgotten', { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(403);
    }
    expect((await call('/v1/forgotten')).status).toBe(403);
  });

  it('lets a public route through, and needs a token on /V1/ as on /v1/', async () => {
    expect((await call('/v1/open')).status).toBe(200);
    expect((await call('/V1/things')).status).toBe(401);
    expect((await call('/V1/things', { headers: { authorization: `bearer ${reader}` } })).status).toBe(200);
  });

  it('lets any valid token read an Authenticated route, the platform operator included, and no one without one', async () => {
    for (const token of [operator, reader]) {
      expect((await call('/v1/me', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    }
    expect((await call('/v1/me')).status).toBe(401);
    expect((await call('/v1/me', { headers: { authorization: `Bearer rmp_${randomBytes(24).toString('base64url')}` } })).status).toBe(401);
  });

  it('holds a write on an Authenticated route to the write floor: a Reader and the operator are refused', async () => {
    for (const token of [operator, reader]) {
      expect((await call('/v1/me', { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status).toBe(403);
    }
  });

  it('never lets a Reader change state, though the route says Reader', async () => {
    expect((await call('/v1/things', { method: 'POST', headers: { authorization: `Bearer ${reader}` } })).status).toBe(403);
  });
});
