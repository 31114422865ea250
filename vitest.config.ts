import { availableParallelism } from 'node:os';
import swc from 'unplugin-swc';
import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Workers for the integration files: vitest's default leaves one core free, which is one worker on CI's 2-core
 * machine, where an integration file mostly waits on PostgreSQL, NATS and loading its modules. Each file has its
 * own database, bus prefix and ports, so two run side by side (222 s → 150 s there). Never fewer than 2, never
 * more than vitest's default elsewhere. The unit specs keep the default: a few measure their own CPU time
 * against a budget (callback-batches.spec.ts) and a second worker beside them overran it.
 */
const INTEGRATION_WORKERS = Math.max(2, availableParallelism() - 1);

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
        test: { name: 'unit', include: ['{packages,services,devices,apps}/*/src/**/*.spec.ts'], testTimeout: 10_000 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['{packages,services,devices,apps}/*/test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          maxWorkers: INTEGRATION_WORKERS,
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
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
