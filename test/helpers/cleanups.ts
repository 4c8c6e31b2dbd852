import { afterAll, afterEach } from 'vitest';

/** Steps that undo what a test started (servers, sandboxes, temp dirs); run last-in, first-out. */
export type Cleanups = (() => Promise<unknown> | unknown)[];

/**
 * A list to push cleanup steps on, emptied after each test (or, with `'all'`,
 * after the file), newest step first, each awaited before the next.
 *
 * @example
 * const cleanups = cleanupsAfter('each');
 * const sandbox = await SlackSandbox.start();
 * cleanups.push(() => sandbox.close());
 */
export function cleanupsAfter(when: 'each' | 'all'): Cleanups {
  const cleanups: Cleanups = [];
  const run = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  if (when === 'each') afterEach(run);
  else afterAll(run);
  return cleanups;
}
