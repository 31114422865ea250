import { Controller, Get, Module, Post } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Public, Requires, bearerTokenOf, tenantRoleNeeded } from './access/access.js';
import { InProcessBus } from './bus/in-process-bus.js';
import { createHttpApp } from './http-service.js';
import { createLogger } from './logger.js';
import { OpsController } from './ops.controller.js';
import { closeServiceRuntime, createServiceRuntime, runtimeProviders } from './service-runtime.js';
import { TenantTokenGuard } from './tenant-token.guard.js';

@Controller('v1')
class UndeclaredController {
  @Get('forgotten')
  forgotten(): string {
    return 'this should never run';
  }
}

@Requires('Reader')
@Controller('v1')
class DeclaredController {
  @Get('things')
  things(): string[] {
    return [];
  }

  @Post('things')
  create(): string {
    return 'created';
  }

  @Public()
  @Get('open')
  open(): string {
    return 'open';
  }
}

describe(TenantTokenGuard.name, () => {
  let service: { url: string; close(): Promise<void> };
  let scrape: () => Promise<string>;

  beforeAll(async () => {
    const runtime = await createServiceRuntime({
      name: 'guarded',
      logger: createLogger('guarded', 'silent'),
      busPrefix: '',
      // Nothing answers token checks on this bus: the attestation service is "unavailable".
      sharedBus: new InProcessBus(),
    });
    @Module({
      controllers: [OpsController, UndeclaredController, DeclaredController],
      providers: [
        ...runtimeProviders(runtime),
        { provide: APP_GUARD, useValue: new TenantTokenGuard('guarded', runtime.bus, runtime.logger, runtime.observability.meter) },
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
    scrape = async () => (await fetch(`${service.url}/metrics`)).text();
  });

  afterAll(async () => {
    await service?.close();
  });

  it('refuses a route that declares no access requirement, even with a well-formed token, and counts it', async () => {
    const response = await fetch(`${service.url}/v1/forgotten`, { headers: { authorization: 'Bearer rmp_0123456789abcdef0123' } });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ code: 'FORBIDDEN' });
    expect(await scrape()).toMatch(/rampart_guarded_api_denials_total\{reason="undeclared",[^}]*\} [1-9]/);
  });

  it('lets a route declared public through without a token (health, metrics too)', async () => {
    expect((await fetch(`${service.url}/v1/open`)).status).toBe(200);
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
  });

  it('decides on the matched route, not the URL text: /V1/... needs a token like /v1/...', async () => {
    // Express matches routes case-insensitively, so /V1/things runs the /v1/things handler.
    for (const path of ['/v1/things', '/V1/things', '/V1/THINGS', '/v1//things']) {
      const response = await fetch(`${service.url}${path}`);
      expect([401, 404], path).toContain(response.status);
    }
    expect((await fetch(`${service.url}/V1/things`)).status).toBe(401);
    expect((await fetch(`${service.url}/V1/things`, { method: 'POST' })).status).toBe(401);
  });

  it('answers 503, not 403, when tokens cannot be checked', async () => {
    const response = await fetch(`${service.url}/v1/things`, { headers: { authorization: 'bearer rmp_0123456789abcdef0123' } });
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ code: 'UNAVAILABLE' });
    expect(await scrape()).toMatch(/rampart_guarded_api_denials_total\{reason="unavailable",[^}]*\} [1-9]/);
  });
});

describe(bearerTokenOf.name, () => {
  it('takes the scheme in any case (RFC 7235 §2.1) and refuses anything else', () => {
    const token = 'rmp_0123456789abcdef';
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) expect(bearerTokenOf(`${scheme} ${token}`)).toBe(token);
    expect(bearerTokenOf(`Basic ${token}`)).toBeUndefined();
    expect(bearerTokenOf(`Bearer short`)).toBeUndefined();
    expect(bearerTokenOf(`Bearer ${token} extra`)).toBeUndefined();
    expect(bearerTokenOf(undefined)).toBeUndefined();
    expect(bearerTokenOf([`Bearer ${token}`, `Bearer ${token}`])).toBeUndefined();
  });
});

describe(tenantRoleNeeded.name, () => {
  it('never lets a Reader route that changes state run with less than Contributor', () => {
    expect(tenantRoleNeeded('Reader', 'GET')).toBe('Reader');
    expect(tenantRoleNeeded('Reader', 'POST')).toBe('Contributor');
    expect(tenantRoleNeeded('Reader', 'DELETE')).toBe('Contributor');
    expect(tenantRoleNeeded('Administrator', 'GET')).toBe('Administrator');
  });
});
