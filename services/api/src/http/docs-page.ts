import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { ErrorCode } from '@rampart/contracts';
import { answerError } from './answers.js';

/**
 * The Swagger UI files the page loads (the same swagger-ui-dist the services' /docs use); nothing else is served.
 * A Map, not an object: a name from the URL must not find `constructor` or `__proto__` on a prototype.
 */
export const DOCS_ASSETS: ReadonlyMap<string, string> = new Map([
  ['swagger-ui.css', 'text/css; charset=utf-8'],
  ['swagger-ui-bundle.js', 'text/javascript; charset=utf-8'],
  ['swagger-ui-standalone-preset.js', 'text/javascript; charset=utf-8'],
  ['favicon-32x32.png', 'image/png'],
]);

const distDirectory = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** The page's own script, served as a file so the page needs no inline script. */
export const DOCS_INITIALIZER = 'swagger-initializer.js';
const INITIALIZER = `window.onload = () => {
  window.ui = SwaggerUIBundle({
    url: 'openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    persistAuthorization: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: 'StandaloneLayout',
  });
};
`;

const PAGE = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>Rampart API</title>
    <link rel="stylesheet" href="docs/swagger-ui.css" />
    <link rel="icon" type="image/png" href="docs/favicon-32x32.png" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="docs/swagger-ui-bundle.js"></script>
    <script src="docs/swagger-ui-standalone-preset.js"></script>
    <script src="docs/swagger-initializer.js"></script>
  </body>
</html>
`;

/**
 * `/docs`: Swagger UI over the merged `/openapi.json`. The page's links are
 * relative to `/docs` (no trailing slash), so the front also works under an
 * ingress path prefix. Assets come from a fixed list, never from the URL.
 */
export async function serveDocs(path: string, res: ServerResponse): Promise<void> {
  if (path === '/docs' || path === '/docs/') {
    // The assets are relative to /docs: send /docs/ back to /docs so they resolve.
    if (path === '/docs/') return void res.writeHead(301, { location: '../docs' }).end();
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
    res.end(PAGE);
    return;
  }
  const name = path.slice('/docs/'.length);
  if (name === DOCS_INITIALIZER) {
    res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
    res.end(INITIALIZER);
    return;
  }
  const type = DOCS_ASSETS.get(name);
  if (type === undefined) return answerError(res, ErrorCode.notFound, `no such document: ${path}`);
  const body = await readFile(join(distDirectory, name));
  res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': 'public, max-age=3600' });
  res.end(body);
}
