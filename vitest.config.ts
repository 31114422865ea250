import { availableParallelism } from 'node:os';
import swc from 'unplugin-swc';
import { configDefaults, defineConfig } from 'vitest/config';

/**
 * On CI's 2-core machine vitest's default is one worker, and most of a spec or integration file's time went to
 * starting a fresh worker and importing its modules again (unit: 51 s for 6 s of tests). So:
 * - the unit specs run in one worker without per-file isolation: pure logic, no process-wide state, each file
 *   imports what it needs once (51 s → 6 s);
 * - the integration files run on two workers without per-file isolation: each file has its own database, bus
 *   prefix and ports, closes what it opens, and mostly waits on PostgreSQL and NATS (222 s → 90 s). Never fewer
 *   than 2 workers, never more than vitest's default elsewhere. The files that load a PKCS#11 module into the
 *   test process are the exception (INTEGRATION_ISOLATED): the module is process-wide and reads its SoftHSM
 *   configuration once, at C_Initialize, so a second file in the same worker would meet the first file's tokens;
 * - every project has its own group, run one after the other: a spec that measures its own CPU time against a
 *   budget (callback-batches.spec.ts) never shares the machine with an integration worker.
 */
const INTEGRATION_WORKERS = Math.max(2, availableParallelism() - 1);
const INTEGRATION_ISOLATED = [
  'packages/trust/test/ceremony.test.ts',
  'packages/trust/test/pkcs11-key-provider.test.ts',
  'services/updates/test/offline-root.test.ts',
  'services/updates/test/tuf-keys-in-provider.migration.test.ts',
  'services/updates/test/tuf-metadata.repository.test.ts',
  'apps/cli/test/ceremony.test.ts',
  'apps/cli/test/cli.test.ts',
  'apps/embedded/test/development-keys.test.ts',
];

/**
 * One runner for the whole repo. SWC compiles the sources so NestJS gets
 * decorator metadata; the `rampart-source` export condition makes workspace
 * packages resolve to their TypeScript sources, so tests never need a build
 * (the end-to-end tests, which start the built services as processes, do).
 */
const shared = {
  plugins: [
    swc.vite({
      module: { type: 'es6' },
      jsc: {
        target: 'es2022',
        parser: { syntax: 'typescript', decorators: true },
        transform: { legacyDecorator: true, decoratorMetadata: true },
      },
    }),
  ],
  resolve: { conditions: ['rampart-source'] },
  ssr: { resolve: { conditions: ['rampart-source'] } },
};

export default defineConfig({
  ...shared,
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['{packages,services,devices,apps}/*/src/**/*.spec.ts'],
          testTimeout: 10_000,
          isolate: false,
          fileParallelism: false,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['{packages,services,devices,apps}/*/test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          exclude: [...configDefaults.exclude, ...INTEGRATION_ISOLATED],
          maxWorkers: INTEGRATION_WORKERS,
          isolate: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration-isolated',
          include: INTEGRATION_ISOLATED,
          testTimeout: 60_000,
          hookTimeout: 60_000,
          maxWorkers: INTEGRATION_WORKERS,
          sequence: { groupOrder: 2 },
        },
      },
      {
        extends: true,
        test: {
          // Across services, in one process: the route sweep, token revocation across replicas, the CLI's secrets.
          name: 'security',
          include: ['test/security/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          sequence: { groupOrder: 3 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/security/**', 'test/containers/**'],
          testTimeout: 240_000,
          hookTimeout: 120_000,
          // Each e2e file starts several processes; two at once fill a 2-core machine.
          fileParallelism: false,
          sequence: { groupOrder: 3 },
        },
      },
      {
        extends: true,
        test: {
          // The image's containers, from the chart's rendered spec and docker/compose.yaml (make test-containers).
          name: 'containers',
          include: ['test/containers/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 180_000,
          // Containers share the host's network and fixed ports: one file at a time, and after every other
          // project has finished (a 2-core machine cannot run them beside the end-to-end tests' processes).
          fileParallelism: false,
          sequence: { groupOrder: 4 },
        },
      },
    ],
  },
});
