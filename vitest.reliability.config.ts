import { defineConfig } from 'vitest/config';

/** `npm run test:reliability`: the SPEC §5 scenarios, one file at a time (they load the machine). */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    globalSetup: ['test/reliability/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 30_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
