import { defineConfig } from 'vitest/config';

/** `npm run test:reliability`: the SPEC §5 scenarios, one file at a time (they load the machine). */
export default defineConfig({
  test: {
    include: ['test/reliability/**/*.test.ts'],
    globalSetup: ['test/helpers/build-dist.ts', 'test/reliability/global-setup.ts'],
    // Each scenario fails on its own when it stops making progress; this cap only ends a hung one.
    testTimeout: 900_000,
    hookTimeout: 90_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
