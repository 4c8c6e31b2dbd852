import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load-config.ts';
import { type RunningService, startService } from '../../src/service.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { tempDir } from './temp-dir.ts';

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

/**
 * Writes `config` (a main configuration as an object) into a temp folder with
 * a fresh SQLite file and starts the real service on an ephemeral port.
 */
export async function startTestService(
  config: Record<string, unknown>,
  options: { env?: Record<string, string>; now?: () => number } = {},
): Promise<TestService> {
  const dir = tempDir();
  const dbFile = join(dir.path, 'leadrelay.db');
  const configFile = join(dir.path, 'leadrelay.yaml');
  const server = { host: '127.0.0.1', port: 0, ...((config.server as object | undefined) ?? {}) };
  writeFileSync(configFile, stringify({ ...config, server, database: { url: `sqlite:${dbFile}` } }));
  const loaded = loadConfig(configFile, { env: options.env ?? {} });
  const service = await startService({
    config: loaded,
    logger: silentLogger(),
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
    async close() {
      await service.stop();
      dir.cleanup();
    },
  };
}
