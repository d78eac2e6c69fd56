import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

// Logic and components, in happy-dom.
export default defineConfig({
  plugins: [react()],
  test: { environment: 'happy-dom', include: ['src/**/*.test.{ts,tsx}'] },
});
