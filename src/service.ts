import { ConfigHolder } from './config/config-holder.ts';
import { watchConfig } from './config/config-watcher.ts';
import { type LoadedConfig, loadConfig } from './config/load-config.ts';
import { type Database, openDatabase } from './db/database.ts';
import { migrateToLatest } from './db/migrate.ts';
import { createApp } from './http/app.ts';
import { type RunningServer, startServer } from './http/server.ts';
import { eventWriterFor } from './ingest/store-events.ts';
import { createLogger, type Logger } from './util/logger.ts';

export interface ServiceOptions {
  /** A loaded configuration, or the path to load one from. */
  config: LoadedConfig | string;
  logger?: Logger;
  now?: () => number;
  /** The environment for `${VAR}` when (re)loading; `process.env` by default. */
  env?: Record<string, string | undefined>;
  /** Reload the configuration when its files change (default true). */
  watch?: boolean;
  /** Quiet time before a reload (default 250 ms). */
  reloadDebounceMs?: number;
}

export interface RunningService {
  url: string;
  port: number;
  config: ConfigHolder;
  store: Database;
  http: RunningServer;
  logger: Logger;
  /** Stops accepting, commits what was accepted, closes the database. */
  stop(): Promise<void>;
}

/**
 * Everything `leadrelay serve` runs, assembled: database (migrated), the
 * group-committing event writer and the HTTP server.
 *
 * @example
 * const service = await startService({ config: 'config/leadrelay.yaml' });
 * console.log(service.url);
 * await service.stop();
 */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const env = options.env ?? process.env;
  const loaded =
    typeof options.config === 'string' ? await loadConfig(options.config, { env }) : options.config;
  const logger = options.logger ?? createLogger();
  const config = new ConfigHolder(loaded);
  const store = openDatabase(loaded.main.database.url, {
    durability: loaded.main.database.durability,
    busyTimeoutMs: loaded.main.database.busy_timeout,
  });
  try {
    await migrateToLatest(store.db as never);
  } catch (error) {
    await store.close();
    throw error;
  }
  for (const [name, source] of Object.entries(loaded.main.sources)) {
    if (source.verify.scheme === 'none')
      logger.warn({ source: name }, 'source accepts unsigned requests (insecure)');
  }

  const writer = eventWriterFor(store);
  const app = createApp({ config, store, writer, logger, ...(options.now ? { now: options.now } : {}) });
  const http = await startServer(app, loaded);
  logger.info({ url: http.url, port: http.port, config: loaded.file }, 'listening');
  const stopWatching =
    options.watch === false
      ? () => {}
      : watchConfig(config, logger, {
          env,
          ...(options.reloadDebounceMs ? { debounceMs: options.reloadDebounceMs } : {}),
        });

  return {
    url: http.url,
    port: http.port,
    config,
    store,
    http,
    logger,
    async stop() {
      stopWatching();
      await http.close();
      await writer.flush();
      await store.close();
    },
  };
}
