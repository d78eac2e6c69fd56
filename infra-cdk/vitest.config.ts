import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global.ts'],
    // Synthesizing the stack takes seconds on two cores; cfn-lint and the CLI more.
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
