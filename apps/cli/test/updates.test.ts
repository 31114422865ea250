import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_HARDWARE, demoFirmwareSigners, platformImage } from '@rampart/emulator';
import { encodeImage } from '@rampart/trust';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiCall } from '../src/commands/platform-api.js';
import { imageUpload, parseWaves } from '../src/commands/updates.js';
import type { EmbeddedPlatform } from '@rampart/embedded';
import { startTestPlatform } from '../../embedded/test/support/test-platform.js';

/** Captures what a command prints. */
async function printed(run: () => Promise<number>): Promise<{ code: number; out: string }> {
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = (chunk: string) => {
    out += chunk;
    return true;
  };
  try {
    return { code: await run(), out };
  } finally {
    process.stdout.write = write;
  }
}

/** `rampart image`, `product`, `device-group`, `deployment` against the embedded platform (which runs the updates service). */
describe('rampart image / product / deployment', () => {
  let dir: string;
  let platform: EmbeddedPlatform;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rampart-updates-cli-'));
    platform = await startTestPlatform(join(dir, 'platform'));
  });

  afterAll(async () => {
    await platform?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('uploads, releases and deploys an image, and shows the deployment', async () => {
    const options = { api: platform.updates.url, token: platform.tenant.adminToken, output: 'json' as const };
    const file = join(dir, 'os-2.0.0.rimg');
    await writeFile(file, encodeImage(platformImage('os', '2.0.0', 2, demoFirmwareSigners(), DEMO_HARDWARE)));
    const uploaded = await printed(() => imageUpload(options, file));
    expect(uploaded.code).toBe(0);
    const image = JSON.parse(uploaded.out) as { sha256: string; status: string };
    expect(image.status).toBe('uploaded');
    expect((await printed(() => apiCall(options, 'POST', `/v1/images/${image.sha256}/release`))).code).toBe(0);
    const product = JSON.parse((await printed(() => apiCall(options, 'POST', '/v1/products', { name: 'Demo kit' }))).out) as {
      groups: Array<{ id: string; name: string }>;
    };
    const group = product.groups.find((g) => g.name === 'Field Test')!.id;
    const created = await printed(() =>
      apiCall(options, 'POST', '/v1/deployments', { groupId: group, images: [image.sha256], rollout: { waves: parseWaves('10,100') } }),
    );
    const deployment = JSON.parse(created.out) as { id: string; waves: number; state: string };
    expect(deployment).toMatchObject({ state: 'active', waves: 1 }); // an empty group: one wave
    const status = JSON.parse((await printed(() => apiCall(options, 'GET', `/v1/deployments/${deployment.id}`))).out) as { counts: object };
    expect(status.counts).toMatchObject({ members: 0 });
    // A file that is not an image: a clear refusal and a failing exit code.
    await writeFile(join(dir, 'junk.rimg'), 'not an image');
    const stderr = process.stderr.write.bind(process.stderr);
    let error = '';
    process.stderr.write = (chunk: string) => {
      error += chunk;
      return true;
    };
    try {
      expect(await imageUpload(options, join(dir, 'junk.rimg'))).toBe(1);
    } finally {
      process.stderr.write = stderr;
    }
    expect(error).toMatch(/400.*not a Rampart image/);
  });

  it('reads wave shorthands', () => {
    expect(parseWaves('1,10,100')).toEqual({ kind: 'percent', percents: [1, 10, 100] });
    expect(parseWaves('exp:5x2')).toEqual({ kind: 'exponential', first: 5, factor: 2 });
    expect(() => parseWaves('many')).toThrow(/--waves/);
  });
});
