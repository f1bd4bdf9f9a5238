// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const NODE_BUILTINS = [
  'fs',
  'fs/promises',
  'child_process',
  'path',
  'os',
  'net',
  'http',
  'https',
  'crypto',
  'stream',
  'process',
  'worker_threads',
  'dns',
  'tls',
  'readline',
  'cluster',
  'dgram',
  'zlib',
  'timers',
  'util',
  'events',
  'url',
];
// I/O packages that must never be bundled into the deterministic workflow sandbox.
const IO_PACKAGES = [
  'execa',
  'smol-toml',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
  '@temporalio/envconfig',
];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'dist-bench/**',
      'node_modules/**',
      '.tools/**',
      'coverage/**',
      'test-artifacts/**',
      'bench/results/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: all I/O belongs in activities. The shared modules
    // that workflows import are held to the same rule (else a built-in could slip in through them).
    files: [
      'src/workflows/**/*.ts',
      'src/lib/dates.ts',
      'src/lib/duration.ts',
      'src/lib/prompts.ts',
      'src/lib/semaphore.ts',
      'src/lib/clip.ts',
      'src/lib/outcomes.ts',
      'src/lib/agentProgress.ts',
      'src/lib/amounts.ts',
      'src/lib/usageLimit.ts',
      'src/temporal/types.ts',
      'src/temporal/heartbeat.ts',
      'src/temporal/jobPlan.ts',
      'src/temporal/limits.ts',
      'src/temporal/ids.ts',
      'src/temporal/failures.ts',
      'src/temporal/patches.ts',
      'src/temporal/ui.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...NODE_BUILTINS.flatMap((m) => [m, `node:${m}`]).map((name) => ({
              name,
              message: 'Node built-ins are not allowed in workflow code: do I/O in an activity.',
            })),
            ...IO_PACKAGES.map((name) => ({
              name,
              message: 'I/O packages are not allowed in workflow code: do I/O in an activity.',
              allowTypeImports: true,
            })),
          ],
          patterns: [
            {
              group: [
                '../activities',
                '../activities/*',
                '../config',
                '../config/*',
                '../devserver/*',
                '../agents/*',
                '../runner/*',
                '../persistent/*',
                '../gates',
                '../gates/*',
                '../temporal/client',
                '../temporal/codec',
                '../temporal/connection',
                '../temporal/schedules',
                // The workflow-safe files of src/temporal/ import each other, never its client-side modules.
                './client',
                './codec',
                './connection',
                './schedules',
                '../lib/ledger',
                '../lib/notify',
                '../lib/skills',
                './activities',
                './activities/*',
              ],
              allowTypeImports: true,
              message: 'Workflows may import only types from I/O modules.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        setInterval: 'readonly',
        clearTimeout: 'readonly',
        clearInterval: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
