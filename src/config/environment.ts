import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseEnv } from 'node:util';

/** `env` with what `.env` beside the main file sets and `env` does not: the real environment wins, as with every dotenv tool. */
export function withDotEnv(
  dir: string,
  env: Record<string, string | undefined>,
): Record<string, string | undefined> {
  const dotEnvFile = resolve(dir, '.env');
  if (!existsSync(dotEnvFile)) return { ...env };
  return { ...parseEnv(readFileSync(dotEnvFile, 'utf8')), ...env };
}

/** `DATABASE_URL` wins over `database.url`, as the deployment docs promise. */
export function databaseUrl(configured: string, env: Record<string, string | undefined>): string {
  return env.DATABASE_URL || configured;
}
