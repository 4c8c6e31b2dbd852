import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { type CompiledRoute, compileRoute } from '../ingest/router.ts';
import { ConfigError } from './config-error.ts';
import { didYouMeanSuffix } from './did-you-mean.ts';
import { type MainConfig, mainConfigSchema } from './main-schema.ts';
import { validateYaml } from './schema-problems.ts';
import { YamlFile } from './yaml-file.ts';

export const DEFAULT_CONFIG_PATH = 'config/leadrelay.yaml';

/** A configuration that passed every check; immutable once built. */
export interface LoadedConfig {
  /** Absolute path of the main file. */
  file: string;
  /** Folder of the main file; relative file paths in the config are resolved against it. */
  dir: string;
  main: MainConfig;
  routes: readonly CompiledRoute[];
  env: Readonly<Record<string, string | undefined>>;
  loadedAt: Date;
}

export interface LoadOptions {
  /** Defaults to `process.env`; `.env` beside the config fills what it does not set. */
  env?: Record<string, string | undefined>;
}

/** The config path a command should use: `--config`, then `LEADRELAY_CONFIG`, then the default. */
export function configPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(flag ?? env.LEADRELAY_CONFIG ?? DEFAULT_CONFIG_PATH);
}

/**
 * Reads, interpolates and validates the configuration, collecting every
 * problem before throwing one {@link ConfigError}.
 *
 * @example
 * const config = loadConfig('config/leadrelay.yaml');
 * config.main.server.port // 3000
 */
export function loadConfig(path: string, options: LoadOptions = {}): LoadedConfig {
  const file = resolve(path);
  const dir = dirname(file);
  if (!existsSync(file)) {
    throw new ConfigError([
      { file: path, line: 1, col: 1, path: '', message: 'configuration file not found' },
    ]);
  }
  const env = withDotEnv(dir, options.env ?? process.env);
  const yaml = YamlFile.read(path, env);
  const parsed = yaml.problems.length === 0 ? validateYaml(yaml, mainConfigSchema) : undefined;
  if (!parsed) throw new ConfigError(yaml.problems);

  const main = applyEnvOverrides(parsed, env);
  const routes = compileRoutes(yaml, main);
  if (yaml.problems.length > 0) throw new ConfigError(yaml.problems);
  return { file, dir, main, routes, env, loadedAt: new Date() };
}

function withDotEnv(
  dir: string,
  env: Record<string, string | undefined>,
): Record<string, string | undefined> {
  const dotEnvFile = resolve(dir, '.env');
  if (!existsSync(dotEnvFile)) return { ...env };
  // The real environment wins over .env, as with every dotenv tool.
  return { ...parseEnv(readFileSync(dotEnvFile, 'utf8')), ...env };
}

function applyEnvOverrides(main: MainConfig, env: Record<string, string | undefined>): MainConfig {
  const port = env.PORT ? Number(env.PORT) : undefined;
  return {
    ...main,
    server: { ...main.server, port: port !== undefined && Number.isInteger(port) ? port : main.server.port },
    database: { ...main.database, url: env.DATABASE_URL || main.database.url },
  };
}

function compileRoutes(yaml: YamlFile, main: MainConfig): CompiledRoute[] {
  const sourceNames = Object.keys(main.sources);
  return main.routes.map((route, index) => {
    const from = route.from === undefined ? [] : Array.isArray(route.from) ? route.from : [route.from];
    from.forEach((name, i) => {
      if (!sourceNames.includes(name)) {
        const at = Array.isArray(route.from) ? ['routes', index, 'from', i] : ['routes', index, 'from'];
        yaml.report(at, `no source named "${name}"${didYouMeanSuffix(name, sourceNames)}`);
      }
    });
    try {
      return compileRoute(route);
    } catch (error) {
      yaml.report(['routes', index, 'when'], `invalid condition: ${(error as Error).message}`);
      return compileRoute({ ...route, when: undefined });
    }
  });
}
