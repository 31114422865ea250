// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Workspace packages by floor (their npm names are @rampart/<name>). */
const SERVICES = ['gateway', 'telemetry', 'attestation', 'failures', 'updates', 'api'];
const DEVICES = ['emulator'];
const APPS = ['cli', 'embedded'];
/** What the CLI may load only with import(), in the commands that run it: heavy to load, needed by few commands. */
const CLI_LOADS_ON_DEMAND = ['embedded', 'emulator', 'trust'];
/** Their subpaths that import nothing heavy, made for the CLI to import statically. */
const CLI_LIGHT_SUBPATHS = ['@rampart/embedded/up-scenarios'];

const BY_PACKAGE_NAME = {
  group: ['**/packages/*/src/**', '**/services/*/src/**', '**/devices/*/src/**', '**/apps/*/src/**'],
  message: 'Import another package by its name, not a relative path.',
};

/** The import rule for one floor: by package name, and never one of `forbidden` (package names without the scope). */
function floor(files, forbidden, message, ignores = []) {
  const group = forbidden.flatMap((name) => [`@rampart/${name}`, `@rampart/${name}/*`]);
  return {
    files,
    ignores,
    rules: {
      'no-restricted-imports': ['error', { patterns: [BY_PACKAGE_NAME, { group, message }] }],
    },
  };
}

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.tools/**', 'reports/**', '.rampart/**', 'coverage/**', 'charts/**', 'k8s/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // Sources belong to their package's project; specs and tests to tsconfig.tests.json.
        project: [
          './tsconfig.tests.json',
          './packages/*/tsconfig.json',
          './services/*/tsconfig.json',
          './devices/*/tsconfig.json',
          './apps/*/tsconfig.json',
        ],
        tsconfigRootDir: import.meta.dirname,
        emitDecoratorMetadata: true,
        experimentalDecorators: true,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: 'ExportAllDeclaration', message: 'Export by name, never `export *`.' }],
      'no-restricted-imports': ['error', { patterns: [BY_PACKAGE_NAME] }],
    },
  },
  // Floors: packages/ is the ground floor; services/ and devices/ stand on it, side by side; apps/ on top. No import
  // runs back down-to-up or sideways (services talk over the bus, devices over MQTT and HTTPS), so a package never
  // drags a service, the emulator or the CLI into what imports it. Each floor's rule repeats BY_PACKAGE_NAME: in a
  // flat config a later setting of a rule replaces an earlier one, it does not add to it.
  floor(
    ['packages/*/src/**/*.ts'],
    [...SERVICES, ...DEVICES, ...APPS],
    'packages/ is the ground floor: it never imports services/, devices/ or apps/.',
  ),
  ...SERVICES.flatMap((service) => {
    const others = SERVICES.filter((other) => other !== service);
    // A service's tests may use the emulator as the device they verify; nothing else they import is above or beside it.
    const devicesBarredFromTests = DEVICES.filter((device) => device !== 'emulator');
    return [
      floor(
        [`services/${service}/src/**/*.ts`],
        [...others, ...DEVICES, ...APPS],
        'A service imports only packages/: other services are reached over the bus or HTTP, devices over MQTT, and apps/ stand above it.',
        ['**/*.spec.ts'],
      ),
      floor(
        [`services/${service}/src/**/*.spec.ts`],
        [...others, ...devicesBarredFromTests, ...APPS],
        "A service's unit test imports only packages/ and the emulator (as the device it verifies).",
      ),
      floor(
        [`services/${service}/test/**/*.ts`],
        // Integration tests run a real attestation service where the service under test asks it over the bus (which
        // tenant claimed a device): faking it is not allowed, and it is the one peer they may start.
        [...others.filter((other) => other !== 'attestation'), ...devicesBarredFromTests, ...APPS],
        "A service's integration test imports only packages/, the emulator, and the attestation service it runs as a real peer.",
      ),
    ];
  }),
  {
    // The CLI starts in a blink because its static imports stay light: the platform, the fleet and the key tooling load
    // with import() inside the commands that run them (this rule sees only static imports; type-only ones are erased).
    files: ['apps/cli/src/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              // A regex, not a group: in a gitignore-style group `!subpath` cannot re-admit a path under a barred package.
              regex: `^(?!(?:${CLI_LIGHT_SUBPATHS.join('|')})$)@rampart/(?:${CLI_LOADS_ON_DEMAND.join('|')})(?:/.*)?$`,
              allowTypeImports: true,
              message: "The CLI's static imports stay light: load this with `await import()` in the command that needs it.",
            },
          ],
        },
      ],
    },
  },
  floor(
    ['devices/*/src/**/*.ts'],
    [...SERVICES, ...APPS],
    'devices/ import only packages/: a device reaches the platform over MQTT and HTTPS.',
  ),
  {
    files: ['**/*.spec.ts', '**/test/**/*.ts', 'bench/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { ...tseslint.configs.disableTypeChecked.languageOptions, globals: globals.node },
  },
  {
    // Device apps are scripts run by the emulated OS in their own V8 context: only `rampart` is in scope.
    files: ['devices/apps/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { rampart: 'readonly' } },
  },
  // Inside the gateway, mqtt/ (broker, hooks, publish flow) stands below gateway/ (wiring, bridges, config): it sees
  // bridges and metrics only through interfaces it declares, so nothing in it reaches back up. The service floor's
  // patterns are repeated (a later setting of a rule replaces an earlier one); specs may compose the real parts above.
  {
    files: ['services/gateway/src/mqtt/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            BY_PACKAGE_NAME,
            {
              group: [...SERVICES.filter((other) => other !== 'gateway'), ...DEVICES, ...APPS].flatMap((name) => [
                `@rampart/${name}`,
                `@rampart/${name}/*`,
              ]),
              message:
                'A service imports only packages/: other services are reached over the bus or HTTP, devices over MQTT, and apps/ stand above it.',
            },
            {
              group: ['**/gateway/*'],
              message: 'mqtt/ stands below gateway/: declare the interface it needs in mqtt/ and let gateway/ implement it.',
            },
          ],
        },
      ],
    },
  },
);
