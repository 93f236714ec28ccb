import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Guest programs are compiled and run inside tests; a slow shared CI machine needs headroom.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
