import { defineConfig } from 'vitest/config';

// End to end: Chromium (playwright-core) against a real `dd0c-cost serve` on Postgres, one
// server for the run (e2e/server.ts), files one after another.
export default defineConfig({
  test: {
    environment: 'node',
    include: ['e2e/**/*.test.ts'],
    globalSetup: ['e2e/global.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
