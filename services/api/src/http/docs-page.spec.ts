import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOCS_ASSETS, serveDocs } from './docs-page.js';

describe('the docs page', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      serveDocs(req.url!, res).catch(() => res.writeHead(500).end());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('serves each listed asset with its type', async () => {
    for (const [name, type] of DOCS_ASSETS) {
      const response = await fetch(`${base}/docs/${name}`);
      expect(response.status, name).toBe(200);
      expect(response.headers.get('content-type')).toBe(type);
      expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(0);
    }
  });

  // Names an object literal would find on Object.prototype: each must be an unknown document, not a failed file read.
  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'package.json', 'nothing.js'])(
    'answers /docs/%s with 404',
    async (name) => {
      const response = await fetch(`${base}/docs/${name}`);
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ code: 'NOT_FOUND', message: `no such document: /docs/${name}` });
    },
  );
});
