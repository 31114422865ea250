import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerfileParser } from 'dockerfile-ast';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;

function read(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

describe('licence', () => {
  it('the LICENSE file is the Apache License 2.0, as package.json and the image label declare', () => {
    expect(existsSync(join(ROOT, 'LICENSE'))).toBe(true);
    const text = read('LICENSE');
    // The whole text, not only a heading: the SHA-256 of the Apache Software Foundation's canonical LICENSE-2.0.txt.
    expect(createHash('sha256').update(text).digest('hex')).toBe('cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30');
    expect((JSON.parse(read('package.json')) as { license?: string }).license).toBe('Apache-2.0');
    expect(read('Dockerfile')).toContain('org.opencontainers.image.licenses="Apache-2.0"');
  });

  it('a NOTICE names the copyright holder, and the image keeps LICENSE and NOTICE (§4: a copy goes with every redistribution)', () => {
    expect(read('NOTICE')).toMatch(/^Rampart\nCopyright \d{4} /);
    const dockerfile = DockerfileParser.parse(read('Dockerfile'));
    const removed = dockerfile
      .getInstructions()
      .filter((i) => i.getKeyword() === 'RUN')
      .flatMap((i) => i.getArgumentsContent()?.match(/rm -rf ([^&]+)/g) ?? [])
      .join(' ');
    expect(removed).not.toMatch(/\bLICENSE\b|\bNOTICE\b/);
    // The runtime stage copies the whole build tree (/src → /app), where both files live.
    expect(read('Dockerfile')).toMatch(/COPY --from=build [^\n]*\/src \/app/);
  });
});
