import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * The floors (packages/ ← services/ and devices/ ← apps/) are kept by the lint
 * rule in eslint.config.js; these tests lint one-line probes at paths on each
 * floor through the repository's own configuration, so a rule that stops
 * holding (a later config replacing it, a glob that misses a folder) fails here.
 */
const eslint = new ESLint({
  cwd: ROOT,
  // Probes are not files of any TypeScript project: parse them without type information and ask only the import rule.
  overrideConfig: { languageOptions: { parserOptions: { project: false, projectService: false } } },
  ruleFilter: ({ ruleId }) => ruleId === 'no-restricted-imports' || ruleId === '@typescript-eslint/no-restricted-imports',
});

async function lintErrors(filePath: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: join(ROOT, filePath) });
  return result!.messages.map((m) => `${m.ruleId ?? 'parse'}: ${m.message}`);
}

const importErrors = (filePath: string, specifier: string): Promise<string[]> => lintErrors(filePath, `import '${specifier}';\n`);

const workspace = (floor: string): string[] =>
  readdirSync(join(ROOT, floor), { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .filter((name) => {
      try {
        const packageName = (JSON.parse(readFileSync(join(ROOT, floor, name, 'package.json'), 'utf8')) as { name?: string }).name;
        if (packageName !== `@rampart/${name}`) throw new Error(`${floor}/${name} is named ${packageName}, not @rampart/${name}`);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false; // devices/apps holds device apps, not a workspace package
        throw error;
      }
    });

const PACKAGES = workspace('packages');
const SERVICES = workspace('services');
const DEVICES = workspace('devices');
const APPS = workspace('apps');
/** Every workspace package is named `@rampart/<its folder>`; the first test checks it. */
const name = (dir: string): string => `@rampart/${dir}`;

describe('floors: no import runs back up or sideways', () => {
  it('finds every floor', () => {
    expect(PACKAGES).toEqual(expect.arrayContaining(['contracts', 'trust', 'service-kit']));
    expect(SERVICES).toEqual(expect.arrayContaining(['gateway', 'attestation', 'updates', 'api']));
    expect(DEVICES).toEqual(['emulator']);
    expect(APPS).toEqual(expect.arrayContaining(['cli', 'embedded']));
  });

  it.each(PACKAGES)('packages/%s may import packages/ and nothing above', async (pkg) => {
    const file = `packages/${pkg}/src/probe.ts`;
    for (const other of PACKAGES.filter((p) => p !== pkg && p !== 'testing')) expect(await importErrors(file, name(other))).toEqual([]);
    for (const above of [...SERVICES, ...DEVICES, ...APPS]) {
      expect(await importErrors(file, name(above)), `${pkg} → ${above}`).toEqual([expect.stringContaining('ground floor')]);
      expect(await importErrors(file, `${name(above)}/sub`), `${pkg} → ${above}/sub`).toHaveLength(1);
    }
  });

  it.each(SERVICES)('services/%s may import packages/ but no other service, no device, no app', async (service) => {
    const file = `services/${service}/src/probe.ts`;
    expect(await importErrors(file, '@rampart/contracts')).toEqual([]);
    for (const forbidden of [...SERVICES.filter((s) => s !== service), ...DEVICES, ...APPS]) {
      expect(await importErrors(file, name(forbidden)), `${service} → ${forbidden}`).toHaveLength(1);
    }
  });

  it.each(SERVICES)("services/%s's unit tests may import the emulator too, but no other service and no app", async (service) => {
    const file = `services/${service}/src/probe.spec.ts`;
    for (const allowed of ['@rampart/contracts', '@rampart/testing', '@rampart/emulator'])
      expect(await importErrors(file, allowed), allowed).toEqual([]);
    for (const forbidden of [...SERVICES.filter((s) => s !== service), ...APPS]) {
      expect(await importErrors(file, name(forbidden)), `${service} spec → ${forbidden}`).toEqual([expect.stringContaining('unit test')]);
    }
  });

  it.each(SERVICES)(
    "services/%s's integration tests may import packages/, the emulator and the attestation service they run; no other service, no app",
    async (service) => {
      const file = `services/${service}/test/probe.test.ts`;
      for (const allowed of ['@rampart/contracts', '@rampart/testing', '@rampart/emulator', '@rampart/attestation'])
        expect(await importErrors(file, allowed), allowed).toEqual([]);
      for (const forbidden of [...SERVICES.filter((s) => s !== service && s !== 'attestation'), ...APPS]) {
        expect(await importErrors(file, name(forbidden)), `${service} test → ${forbidden}`).toEqual([
          expect.stringContaining('integration test'),
        ]);
        expect(
          await importErrors(`services/${service}/test/nested/probe.ts`, `${name(forbidden)}/sub`),
          `${service} test → ${forbidden}/sub`,
        ).toHaveLength(1);
      }
    },
  );

  it('devices/ may import packages/ but no service and no app', async () => {
    const file = 'devices/emulator/src/probe.ts';
    expect(await importErrors(file, '@rampart/trust')).toEqual([]);
    for (const forbidden of [...SERVICES, ...APPS]) expect(await importErrors(file, name(forbidden)), forbidden).toHaveLength(1);
  });

  it('apps/ may import every floor below', async () => {
    for (const below of ['contracts', ...SERVICES, ...DEVICES])
      expect(await importErrors('apps/embedded/src/probe.ts', name(below))).toEqual([]);
  });

  it("keeps the CLI's static imports light: the platform, the emulator and the key tooling only through import()", async () => {
    const file = 'apps/cli/src/commands/probe.ts';
    for (const heavy of ['embedded', 'emulator', 'trust']) {
      expect(await importErrors(file, name(heavy)), heavy).toEqual([expect.stringContaining('static imports stay light')]);
      expect(await importErrors(file, `${name(heavy)}/sub`), `${heavy}/sub`).toHaveLength(1);
      expect(await lintErrors(file, `export { x } from '${name(heavy)}';\n`), `re-export of ${heavy}`).toHaveLength(1);
      // Erased at build: a type costs the CLI nothing at start.
      expect(await lintErrors(file, `import type { X } from '${name(heavy)}';\nexport type Y = X;\n`), `type of ${heavy}`).toEqual([]);
      // Loaded when a command runs, not when the CLI starts.
      expect(await lintErrors(file, `export const load = () => import('${name(heavy)}');\n`), `import() of ${heavy}`).toEqual([]);
    }
    // A subpath made to import nothing heavy is named in the rule as an exception, one by one.
    for (const light of ['@rampart/contracts', '@rampart/api-client', '@rampart/embedded/up-scenarios'])
      expect(await importErrors(file, light), light).toEqual([]);
  });

  it('inside the gateway, mqtt/ never imports gateway/ (which wires it), while gateway/ may import mqtt/', async () => {
    expect(await importErrors('services/gateway/src/mqtt/hooks/probe.ts', '../../gateway/mqtt-gateway.js')).toEqual([
      expect.stringContaining('mqtt/ stands below gateway/'),
    ]);
    expect(await importErrors('services/gateway/src/mqtt/probe.ts', '../gateway/gateway-metrics.js')).toHaveLength(1);
    expect(await importErrors('services/gateway/src/mqtt/probe.ts', '@rampart/attestation')).toHaveLength(1);
    expect(await importErrors('services/gateway/src/gateway/probe.ts', '../mqtt/denials.js')).toEqual([]);
  });

  it('every floor still refuses a relative path into another package (the floor rules do not replace it)', async () => {
    for (const file of [
      'packages/trust/src/probe.ts',
      'services/gateway/src/probe.ts',
      'devices/emulator/src/probe.ts',
      'apps/cli/src/probe.ts',
    ]) {
      expect(await importErrors(file, '../../../packages/contracts/src/index.js'), file).toEqual([
        expect.stringContaining('by its name, not a relative path'),
      ]);
    }
  });
});
