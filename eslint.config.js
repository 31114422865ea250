// @ts-check
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

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
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/packages/*/src/**', '**/services/*/src/**', '**/devices/*/src/**', '**/apps/*/src/**'],
              message: 'Import another package by its name, not a relative path.',
            },
          ],
        },
      ],
    },
  },
  {
    // Floors: packages/ is the ground floor, services/ and devices/ stand on it, apps/ on top. No import runs
    // back down-to-up, so a package never drags a service, the emulator or the CLI into what imports it.
    files: ['packages/*/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '@rampart/{gateway,telemetry,attestation,failures,updates,api,emulator,cli,embedded}',
                '@rampart/{gateway,telemetry,attestation,failures,updates,api,emulator,cli,embedded}/*',
              ],
              message: 'packages/ is the ground floor: it never imports services/, devices/ or apps/.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['services/*/src/**/*.ts', 'devices/*/src/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@rampart/{cli,embedded}', '@rampart/{cli,embedded}/*'], message: 'services/ and devices/ never import apps/.' },
          ],
        },
      ],
    },
  },
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
);
