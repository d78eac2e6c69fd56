import { defineConfig } from 'vitest/config';

// The dashboard's benchmark (e2e/anomalies.perf.ts): figures printed, not asserted.
export default defineConfig({
  test: { environment: 'node', include: ['e2e/**/*.perf.ts'], testTimeout: 180_000, hookTimeout: 60_000 },
});
