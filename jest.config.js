/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/__test__/**/*.spec.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  // Real inference on a 2-core machine: a test may synthesise several words.
  testTimeout: 120000,
  // The native pool already uses every core; parallel Jest workers would only fight over them.
  maxWorkers: 1,
}
