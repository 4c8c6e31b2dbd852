import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'connectors/**/*.test.ts'],
    // The reliability suite runs on its own: npm run test:reliability.
    exclude: [...configDefaults.exclude, 'test/reliability/**'],
    // Generous: tests wait for conditions, and these caps only end a test that is stuck,
    // never one that is slow because the machine is loaded.
    testTimeout: 180_000,
    hookTimeout: 90_000,
    pool: 'forks',
    globalSetup: ['test/helpers/build-dist.ts'],
  },
});
