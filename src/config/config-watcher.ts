import { existsSync, type FSWatcher, watch } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../util/logger.ts';
import { ConfigError } from './config-error.ts';
import type { ConfigHolder } from './config-holder.ts';
import { type LoadOptions, loadConfig } from './load-config.ts';

export interface WatchOptions extends LoadOptions {
  /** Quiet time after the last change before reloading: editors write files in several steps. */
  debounceMs?: number;
}

/**
 * Reloads the configuration when the main file or a connector file changes.
 * A valid change replaces the configuration in one step (requests already
 * running keep the snapshot they started with); an invalid one is logged and
 * recorded for `/readyz`, and the last valid configuration keeps serving.
 *
 * Returns a function that stops watching.
 */
export function watchConfig(holder: ConfigHolder, logger: Logger, options: WatchOptions = {}): () => void {
  const { file, dir } = holder.current;
  const debounceMs = options.debounceMs ?? 250;
  const watchers = new Map<string, FSWatcher>();
  let timer: NodeJS.Timeout | undefined;
  let reloading = false;
  let again = false;
  let stopped = false;

  const reload = async () => {
    if (reloading) {
      again = true;
      return;
    }
    reloading = true;
    try {
      const next = await loadConfig(file, options);
      if (stopped) return;
      holder.replace(next);
      logger.info({ config: file, connectors: [...next.connectors.keys()] }, 'configuration reloaded');
    } catch (error) {
      const message = error instanceof ConfigError ? error.message : (error as Error).message;
      holder.rejectChange(message);
      logger.error(
        { config: file, problems: message.split('\n') },
        'configuration change rejected; still serving the last valid one',
      );
    } finally {
      reloading = false;
      watchFolders();
      if (again && !stopped) {
        again = false;
        void reload();
      }
    }
  };

  const schedule = () => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), debounceMs);
  };

  // Folders, not files: editors replace a file by renaming a new one over it,
  // which a watch on the old file never reports.
  const watchFolders = () => {
    for (const folder of [dir, join(dir, 'connectors')]) {
      if (stopped || watchers.has(folder) || !existsSync(folder)) continue;
      const watcher = watch(folder, (_event, name) => {
        if (!name || /\.(ya?ml)$|^\.env$|^connectors$/.test(String(name))) schedule();
      });
      watcher.on('error', () => {
        watcher.close();
        watchers.delete(folder);
      });
      watchers.set(folder, watcher);
    }
  };
  watchFolders();

  return () => {
    stopped = true;
    clearTimeout(timer);
    for (const watcher of watchers.values()) watcher.close();
    watchers.clear();
  };
}
