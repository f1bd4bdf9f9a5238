/** @type {import('jest').Config} */
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  globalSetup: '<rootDir>/test/globalSetup.ts',
  globalTeardown: '<rootDir>/test/globalTeardown.ts',
  testTimeout: 120000,
  // Two files at a time (the machines have 2 cores). Files that start workers, `up` or agents from dist/ check
  // only their own processes (by pid, run key or folder), so they can share the machine.
  maxWorkers: 2,
  transform: { '^.+\\.ts$': 'ts-jest' },
};
