import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load-config.ts';
import type { Database } from '../../src/db/database.ts';
import { openStore } from '../../src/db/open-store.ts';
import { type RunningService, startService } from '../../src/service.ts';
import { type Logger, silentLogger } from '../../src/util/logger.ts';
import { tempDir } from './temp-dir.ts';

export type Dialect = 'sqlite' | 'postgres';

/** PostgreSQL for the tests that loop over dialects; unset → those are reported as skipped. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL;

/** The dialect `startTestService` uses when not told: set by {@link describeEachDialect}. */
let currentDialect: Dialect = 'sqlite';

/**
 * Runs a describe block once per dialect, like kysely's own tests: every
 * `startTestService` inside it uses that dialect. PostgreSQL's copy is
 * skipped (and reported so) when TEST_DATABASE_URL is unset.
 */
export function describeEachDialect(title: string, body: (dialect: Dialect) => void): void {
  for (const dialect of ['sqlite', 'postgres'] as const) {
    const run = dialect === 'sqlite' || TEST_DATABASE_URL ? describe : describe.skip;
    run(`${title} [${dialect}]`, () => {
      beforeAll(() => {
        currentDialect = dialect;
      });
      afterAll(() => {
        currentDialect = 'sqlite';
      });
      body(dialect);
    });
  }
}

/**
 * A fresh, empty PostgreSQL schema on TEST_DATABASE_URL, and a URL whose
 * connections use it (search_path); `drop` removes it with everything in it.
 */
export async function freshPostgresSchema(): Promise<{ url: string; schema: string; drop(): Promise<void> }> {
  if (!TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set');
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`create schema ${schema}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    schema,
    async drop() {
      const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await client.connect();
      try {
        await client.query(`drop schema if exists ${schema} cascade`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * A migrated store of the given dialect on a fresh SQLite file or PostgreSQL
 * schema, for tests of one statement module; `cleanup` closes and removes it.
 *
 * @example
 * const { store, cleanup } = await openDialectStore(dialect);
 */
export async function openDialectStore(
  dialect: Dialect,
): Promise<{ store: Database; cleanup: () => Promise<void> }> {
  if (dialect === 'postgres') {
    const schema = await freshPostgresSchema();
    const { store } = await openStore({ url: schema.url, durability: 'normal', busy_timeout: 5000 });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await schema.drop();
      },
    };
  }
  const dir = tempDir();
  const { store } = await openStore({
    url: `sqlite:${join(dir.path, 'db.sqlite')}`,
    durability: 'normal',
    busy_timeout: 5000,
  });
  return {
    store,
    cleanup: async () => {
      await store.close();
      dir.cleanup();
    },
  };
}

export function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

export interface TestService extends RunningService {
  dir: string;
  dbFile: string;
  configFile: string;
  post(source: string, body: string | Buffer, headers?: Record<string, string>): Promise<TestResponse>;
  count(table: 'events' | 'deliveries' | 'attempts'): Promise<number>;
  close(): Promise<void>;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

export function writeConnectorFiles(
  dir: string,
  config: Record<string, unknown>,
  connectors: Record<string, Record<string, unknown>>,
): void {
  const routes = (config.routes as { to: string[] }[] | undefined) ?? [];
  const all = { ...connectors };
  for (const name of routes.flatMap((route) => route.to)) {
    all[name] ??= { type: 'webhook', url: 'http://127.0.0.1:9/unused' };
  }
  if (Object.keys(all).length === 0) return;
  mkdirSync(join(dir, 'connectors'), { recursive: true });
  for (const [name, file] of Object.entries(all))
    writeFileSync(join(dir, 'connectors', `${name}.yaml`), stringify(file));
}

/**
 * Writes `config` (a main configuration as an object) into a temp folder with
 * a fresh SQLite file and starts the real service on an ephemeral port.
 */
export async function startTestService(
  config: Record<string, unknown>,
  options: {
    env?: Record<string, string>;
    now?: () => number;
    /** Connector files by name; a connector a route names without one here becomes a webhook to a closed port. */
    connectors?: Record<string, Record<string, unknown>>;
    /** Reload when the files change (off by default in tests). */
    watch?: boolean;
    /** Run the delivery worker (off by default in tests). */
    worker?: boolean;
    random?: () => number;
    logger?: Logger;
    /** Default: the dialect of the enclosing {@link describeEachDialect}, else SQLite. */
    dialect?: Dialect;
  } = {},
): Promise<TestService> {
  const dir = tempDir();
  writeConnectorFiles(dir.path, config, options.connectors ?? {});
  const dbFile = join(dir.path, 'leadrelay.db');
  const configFile = join(dir.path, 'leadrelay.yaml');
  let closing: Promise<void> | undefined;
  const postgres =
    (options.dialect ?? currentDialect) === 'postgres' ? await freshPostgresSchema() : undefined;
  const server = { host: '127.0.0.1', port: 0, ...((config.server as object | undefined) ?? {}) };
  const database = {
    url: postgres ? postgres.url : `sqlite:${dbFile}`,
    ...((config.database as object | undefined) ?? {}),
  };
  writeFileSync(configFile, stringify({ ...config, server, database }));
  const loaded = await loadConfig(configFile, { env: options.env ?? {} });
  const service = await startService({
    config: loaded,
    env: options.env ?? {},
    watch: options.watch ?? false,
    worker: options.worker ?? false,
    ...(options.random ? { random: options.random } : {}),
    reloadDebounceMs: 50,
    logger: options.logger ?? silentLogger(),
    ...(options.now ? { now: options.now } : {}),
  });
  return {
    ...service,
    dir: dir.path,
    dbFile,
    configFile,
    async post(source, body, headers = {}) {
      const response = await fetch(`${service.url}/webhooks/${source}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      });
      const text = await response.text();
      return { status: response.status, headers: response.headers, json: text ? JSON.parse(text) : {} };
    },
    async count(table) {
      const row = await service.store.db
        .selectFrom(table)
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      return Number(row.n);
    },
    // Once, however often it is called (a test may close early, its cleanup again).
    close() {
      closing ??= (async () => {
        await service.stop();
        await postgres?.drop();
        dir.cleanup();
      })();
      return closing;
    },
  };
}

/**
 * Starts a delivery worker for a service started without one, once the test
 * has queued what it wants delivered together. Stop it with the returned function.
 */
export async function startWorker(service: TestService): Promise<() => Promise<void>> {
  const { DeliveryWorker } = await import('../../src/outbox/delivery-worker.ts');
  const worker = new DeliveryWorker({
    store: service.store,
    config: service.config,
    logger: service.logger,
    pollIntervalMs: 50,
  });
  worker.start();
  return () => worker.stop();
}

/** Waits until every delivery in the service's database is delivered. */
export async function untilAllDelivered(service: TestService, timeoutMs = 90_000): Promise<void> {
  const { until } = await import('./until.ts');
  await until(
    async () => {
      const open = await service.store.db
        .selectFrom('deliveries')
        .select('id')
        .where('status', '!=', 'delivered')
        .limit(1)
        .execute();
      return open.length === 0;
    },
    'every delivery delivered',
    timeoutMs,
  );
}
