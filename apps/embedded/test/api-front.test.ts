import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callApi } from '@rampart/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmbeddedPlatform } from '../src/embedded-platform.js';
import { startTestPlatform } from './support/test-platform.js';

describe('the embedded platform’s API front', () => {
  let dir: string;
  let platform: EmbeddedPlatform;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-front-'));
    platform = await startTestPlatform(dir);
  });

  afterAll(async () => {
    await platform?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts ready, with every service routed', async () => {
    const ready = await fetch(`${platform.api.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, missing: [] });
  });

  it('serves each service’s REST API under the one base URL, as the service does', async () => {
    const token = platform.tenant.adminToken;
    for (const [service, path] of [
      [platform.attestation.url, '/v1/devices'],
      [platform.telemetry.url, '/v1/telemetry/stats'],
      [platform.failures.url, '/v1/failure-buckets'],
      [platform.updates.url, '/v1/products'],
    ] as const) {
      const through = await callApi(platform.api.url, token, 'GET', path);
      expect(through.status, path).toBe(200);
      expect(through).toEqual(await callApi(service, token, 'GET', path));
    }
  });

  it('merges the four OpenAPI documents at /openapi.json', async () => {
    const document = (await (await fetch(`${platform.api.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    for (const path of ['/v1/tenants', '/v1/telemetry/stats', '/v1/failure-buckets', '/v1/products']) {
      expect(Object.keys(document.paths)).toContain(path);
    }
  });
});
