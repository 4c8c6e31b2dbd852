import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from './config-error.ts';
import { type DatabaseSettings, databaseSchema, MAIN_FILE_KEYS } from './database-schema.ts';
import { databaseUrl, withDotEnv } from './environment.ts';
import { validateYaml } from './schema-problems.ts';
import { YamlFile } from './yaml-file.ts';

// Every other section is taken as it is (loadConfig checks it); only its name must be one.
const databaseOnly = z.strictObject({
  ...Object.fromEntries(MAIN_FILE_KEYS.map((key) => [key, z.unknown().optional()])),
  database: databaseSchema,
});

/**
 * Only the `database:` section of the main file, with `.env` and
 * `DATABASE_URL` applied as {@link loadConfig} applies them: all that the
 * outbox commands (`deliveries list|retry`, `events show`) need. They load no
 * connector, mapping or route, so they answer in a fraction of the time, and
 * they still work while another part of the configuration is broken — which
 * is when an admin most needs to see the queue. Problems in that section are
 * still reported with file:line:col.
 *
 * @example
 * const database = loadDatabaseSettings('config/leadrelay.yaml');
 * const { store } = await openStore(database);
 */
export function loadDatabaseSettings(
  path: string,
  options: {
    env?: Record<string, string | undefined>;
    /** Told how many problems other sections have, which these commands go past. */
    onOtherProblems?: (count: number) => void;
  } = {},
): DatabaseSettings {
  const file = resolve(path);
  if (!existsSync(file)) {
    throw new ConfigError([
      { file: path, line: 1, col: 1, path: '', message: 'configuration file not found' },
    ]);
  }
  const env = withDotEnv(dirname(file), options.env ?? process.env);
  const yaml = YamlFile.read(path, env);
  const parsed = validateYaml(yaml, databaseOnly);
  // A file that does not parse counts (path ''), an unknown top-level key (a misspelled
  // `database:` would otherwise silently mean the default database), and anything inside
  // `database:`; an unset variable or a mistake inside another section does not stop these commands.
  const topLevel = new Set<string>(MAIN_FILE_KEYS);
  const problems = yaml.problems.filter(
    (problem) =>
      problem.path === '' ||
      problem.path === 'database' ||
      problem.path.startsWith('database.') ||
      (!problem.path.includes('.') && !problem.path.includes('[') && !topLevel.has(problem.path)),
  );
  if (problems.length > 0 || !parsed) throw new ConfigError(problems.length > 0 ? problems : yaml.problems);
  if (yaml.problems.length > 0) options.onOtherProblems?.(yaml.problems.length);
  return { ...parsed.database, url: databaseUrl(parsed.database.url, env) };
}
