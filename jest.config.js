/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  globalSetup: '<rootDir>/test/globalSetup.ts',
  globalTeardown: '<rootDir>/test/globalTeardown.ts',
  testTimeout: 120000,
  // Several suites start workers against the one shared dev server; 2 cores.
  maxWorkers: 2,
  transform: { '^.+\\.ts$': 'ts-jest' },
};
