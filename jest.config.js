/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  globalSetup: '<rootDir>/test/globalSetup.ts',
  globalTeardown: '<rootDir>/test/globalTeardown.ts',
  testTimeout: 120000,
  // One test file at a time: several files start workers, `up`, `npm start` and real agents from this
  // checkout's dist/, and their process-table checks (build guard, containment sweeps) must see only their own.
  maxWorkers: 1,
  transform: { '^.+\\.ts$': 'ts-jest' },
};
