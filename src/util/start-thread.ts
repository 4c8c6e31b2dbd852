import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts a worker thread on the module `name` beside `fromModule` (pass
 * `import.meta.url`). Compiled (dist/), the thread loads the sibling `.js`;
 * from the TypeScript sources it first goes through `thread-boot.mjs`, which
 * gives the thread the TypeScript loader that threads do not inherit. The
 * module reads its own data from `workerData`.
 *
 * @example
 * const thread = startThread(import.meta.url, './writer-thread', { settings });
 */
export function startThread(
  fromModule: string,
  name: string,
  data: Record<string, unknown>,
  options: Omit<WorkerOptions, 'workerData'> = {},
): Worker {
  if (fromModule.endsWith('.js'))
    return new Worker(new URL(`${name}.js`, fromModule), { ...options, workerData: data });
  return new Worker(new URL('./thread-boot.mjs', import.meta.url), {
    ...options,
    workerData: { ...data, entry: new URL(`${name}.ts`, fromModule).href },
  });
}
