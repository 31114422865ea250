import { ApiHttpError } from '@rampart/api-client';
import { describe, expect, it } from 'vitest';
import { assignEach } from './commands/product.js';
import { LookupError } from './lookup.js';
import { API_PAGE, allDevices, resolveBucket, resolveDevice, resolveImage } from './resolve.js';
import type { Session } from './session.js';

// An in-memory API answering the list paths as the controllers do: devices by `limit` (≤ 1000) and `offset` in id
// order; buckets and images cut at 1,000 with no way to page.
function api(lists: { devices?: string[]; buckets?: number; images?: number }): Pick<Session, 'get'> & { calls: string[] } {
  const calls: string[] = [];
  const devices = [...(lists.devices ?? [])].sort().map((id) => ({ id, revoked: false }));
  const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');
  return {
    calls,
    get: <T>(path: string): Promise<T> => {
      calls.push(path);
      const url = new URL(path, 'http://api');
      const limit = Math.min(Number(url.searchParams.get('limit') ?? 100), API_PAGE);
      const offset = Number(url.searchParams.get('offset') ?? 0);
      if (url.pathname === '/v1/devices') return Promise.resolve(devices.slice(offset, offset + limit) as T);
      if (url.pathname === '/v1/failure-buckets')
        return Promise.resolve(
          Array.from({ length: Math.min(lists.buckets ?? 0, limit) }, (_, i) => ({ signature: signature(i), title: 't' })) as T,
        );
      if (url.pathname === '/v1/images')
        return Promise.resolve(
          Array.from({ length: Math.min(lists.images ?? 0, API_PAGE) }, (_, i) => ({
            sha256: hex(i, 64),
            component: 'os',
            version: `1.0.${i}`,
          })) as T,
        );
      return Promise.reject(new Error(`unexpected ${path}`));
    },
  };
}

/** Bucket signatures that differ in their first four characters, as real (hashed) ones do. */
const signature = (n: number): string => n.toString(16).padStart(4, '0').padEnd(32, '0');

const deviceId = (n: number, prefix = ''): string => (prefix + n.toString(16).padStart(64, '0')).slice(0, 64);

describe(allDevices.name, () => {
  it('reads every page of the device list, not only the first 1,000', async () => {
    const ids = Array.from({ length: 2_345 }, (_, i) => deviceId(i));
    const s = api({ devices: ids });
    expect((await allDevices(s)).map((d) => d.id)).toEqual(ids);
    expect(s.calls).toEqual([
      '/v1/devices?limit=1000&offset=0',
      '/v1/devices?limit=1000&offset=1000',
      '/v1/devices?limit=1000&offset=2000',
    ]);
  });

  it('refuses a list that does not advance (an API ignoring offset) instead of looping', async () => {
    const page = Array.from({ length: API_PAGE }, (_, i) => ({ id: deviceId(i) }));
    const s = { get: <T>() => Promise.resolve(page as unknown as T) };
    await expect(allDevices(s)).rejects.toThrow(/did not advance/);
  });
});

describe(resolveDevice.name, () => {
  it('sees a device past the first 1,000 that shares the prefix', async () => {
    const ids = [...Array.from({ length: API_PAGE }, (_, i) => deviceId(i)), 'ffff01'.padEnd(64, '0'), 'ffff02'.padEnd(64, '0')];
    await expect(resolveDevice(api({ devices: ids }), 'ffff')).rejects.toThrow(/"ffff" matches 2 devices/);
    expect(await resolveDevice(api({ devices: ids }), 'ffff02')).toBe('ffff02'.padEnd(64, '0'));
  });
});

describe('lookups in lists the API cannot page', () => {
  it('refuse a prefix when the list came back full, asking for the full id', async () => {
    await expect(resolveBucket(api({ buckets: 1_500 }), '0000')).rejects.toThrow(
      new LookupError('the API lists only the first 1000 buckets and there may be more: give the full 32-hex signature'),
    );
    await expect(resolveImage(api({ images: 1_000 }), 'os@1.0.1')).rejects.toThrow(/give the full 64-hex digest/);
  });

  it('take a prefix from a list that is not full, and a full id without listing', async () => {
    expect(await resolveBucket(api({ buckets: 999 }), signature(998).slice(0, 4))).toBe(signature(998));
    const s = api({ buckets: 1_500 });
    expect(await resolveBucket(s, signature(1_200))).toBe(signature(1_200));
    expect(s.calls).toEqual([]);
  });
});

describe(assignEach.name, () => {
  it('says how many moved and where it stopped, with the API message', async () => {
    const sent: string[] = [];
    const s = {
      send: <T>(_method: string, path: string): Promise<T> => {
        if (sent.length === 2) return Promise.reject(new ApiHttpError('PUT', path, 409, 'the device is revoked', {}));
        sent.push(path);
        return Promise.resolve(undefined as T);
      },
    };
    await expect(assignEach(s, 'g1', ['d1', 'd2', 'd3', 'd4'])).rejects.toThrow(
      'moved 2 of 4; stopped at d3: the device is revoked (HTTP 409)',
    );
    expect(sent).toEqual(['/v1/device-groups/g1/devices/d1', '/v1/device-groups/g1/devices/d2']);
  });
});
