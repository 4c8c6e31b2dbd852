import { existsSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Connector, ConnectorEnvironment } from '../../connectors/types.ts';
import { type CompiledRoute, compileRoute } from '../ingest/router.ts';
import { filterSettings } from '../mapping/engine.ts';
import { didYouMeanSuffix } from '../util/did-you-mean.ts';
import { ConfigError, type ConfigProblem } from './config-error.ts';
import { databaseUrl, withDotEnv } from './environment.ts';
import { loadConnectors } from './load-connectors.ts';
import { type MainConfig, mainConfigSchema } from './main-schema.ts';
import { validateYaml } from './schema-problems.ts';
import { YamlFile } from './yaml-file.ts';

export { configPath, DEFAULT_CONFIG_PATH } from './config-path.ts';

/** A configuration that passed every check; immutable once built. */
export interface LoadedConfig {
  /** Absolute path of the main file. */
  file: string;
  /** Folder of the main file; relative file paths in the config are resolved against it. */
  dir: string;
  main: MainConfig;
  routes: readonly CompiledRoute[];
  /** Configured connectors by name (from `connectors/NAME.yaml`). */
  connectors: ReadonlyMap<string, Connector>;
  connectorFiles: ReadonlyMap<string, string>;
  env: Readonly<Record<string, string | undefined>>;
  loadedAt: Date;
}

export interface LoadOptions {
  /** Defaults to `process.env`; `.env` beside the config fills what it does not set. */
  env?: Record<string, string | undefined>;
  /** Given to connectors; by default the clock and a logger that drops everything. */
  connectorEnvironment?: ConnectorEnvironment;
}

const QUIET_ENVIRONMENT: ConnectorEnvironment = { now: Date.now, log: () => {} };

/**
 * Reads, interpolates and validates the configuration, collecting every
 * problem before throwing one {@link ConfigError}.
 *
 * @example
 * const config = await loadConfig('config/leadrelay.yaml');
 * config.main.server.port // 3000
 */
export async function loadConfig(path: string, options: LoadOptions = {}): Promise<LoadedConfig> {
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
  const loaded = await loadConnectors(dirname(path), env, options.connectorEnvironment ?? QUIET_ENVIRONMENT);
  const connectorProblems = loaded.yamlFiles.flatMap((f) => f.problems);
  if (!parsed) throw new ConfigError([...yaml.problems, ...connectorProblems]);

  const main = applyEnvOverrides(parsed, env);
  const routes = compileRoutes(yaml, main);
  checkRouteTargets(yaml, main, loaded.connectors, connectorProblems.length > 0);
  checkAlertTarget(yaml, main, loaded.connectors, connectorProblems.length > 0);
  const waitProblems = connectorProblems.length > 0 ? [] : checkWaits(loaded.connectors, loaded.yamlFiles);
  const problems = [...yaml.problems, ...connectorProblems, ...waitProblems];
  if (problems.length > 0) throw new ConfigError(problems);
  filterSettings.phoneRegion = main.mapping.phone_region;
  return {
    file,
    dir,
    main,
    routes,
    connectors: loaded.connectors,
    connectorFiles: loaded.files,
    env,
    loadedAt: new Date(),
  };
}

function applyEnvOverrides(main: MainConfig, env: Record<string, string | undefined>): MainConfig {
  const port = env.PORT ? Number(env.PORT) : undefined;
  return {
    ...main,
    server: { ...main.server, port: port !== undefined && Number.isInteger(port) ? port : main.server.port },
    database: { ...main.database, url: databaseUrl(main.database.url, env) },
  };
}

/**
 * A connector that waits for others' results (Slack's `links_from`) must name
 * connectors that exist; otherwise its buttons would silently never appear.
 */
function checkWaits(connectors: ReadonlyMap<string, Connector>, files: readonly YamlFile[]): ConfigProblem[] {
  const names = [...connectors.keys()];
  for (const connector of connectors.values()) {
    const file = files.find(
      (candidate) => basename(candidate.file).replace(/\.ya?ml$/, '') === connector.name,
    );
    if (!file) continue;
    const listed = (file.data as { links_from?: unknown } | undefined)?.links_from;
    for (const other of connector.waitsFor?.connectors ?? []) {
      if (connectors.has(other)) continue;
      const index = Array.isArray(listed) ? listed.indexOf(other) : -1;
      file.report(
        index >= 0 ? ['links_from', index] : ['links_from'],
        `no connector named "${other}"${didYouMeanSuffix(other, names)}`,
      );
    }
  }
  return files.flatMap((file) => file.problems);
}

/**
 * A route naming a connector that does not exist is an error. When some
 * connector file is itself broken, its name is not reported again here.
 */
function checkRouteTargets(
  yaml: YamlFile,
  main: MainConfig,
  connectors: ReadonlyMap<string, Connector>,
  someConnectorBroken: boolean,
): void {
  const names = [...connectors.keys()];
  main.routes.forEach((route, index) => {
    route.to.forEach((name, i) => {
      if (connectors.has(name)) return;
      if (someConnectorBroken) return;
      const hint = didYouMeanSuffix(name, names);
      const known =
        names.length > 0 ? `; defined: ${names.join(', ')}` : '; no connector files in connectors/';
      yaml.report(['routes', index, 'to', i], `no connector named "${name}"${hint || known}`);
    });
  });
}

/** `alerts.to` must name a configured connector. */
function checkAlertTarget(
  yaml: YamlFile,
  main: MainConfig,
  connectors: ReadonlyMap<string, Connector>,
  someConnectorBroken: boolean,
): void {
  const name = main.alerts?.to;
  if (name === undefined || connectors.has(name) || someConnectorBroken) return;
  const names = [...connectors.keys()];
  const hint = didYouMeanSuffix(name, names);
  const known = names.length > 0 ? `; defined: ${names.join(', ')}` : '; no connector files in connectors/';
  yaml.report(['alerts', 'to'], `no connector named "${name}"${hint || known}`);
}

function compileRoutes(yaml: YamlFile, main: MainConfig): CompiledRoute[] {
  const sourceNames = Object.keys(main.sources);
  const mappedFields = new Set(
    Object.values(main.sources).flatMap((source) => Object.keys(source.map?.fields ?? {})),
  );
  return main.routes.map((route, index) => {
    const from = route.from === undefined ? [] : Array.isArray(route.from) ? route.from : [route.from];
    from.forEach((name, i) => {
      if (!sourceNames.includes(name)) {
        const at = Array.isArray(route.from) ? ['routes', index, 'from', i] : ['routes', index, 'from'];
        yaml.report(at, `no source named "${name}"${didYouMeanSuffix(name, sourceNames)}`);
      }
    });
    try {
      return compileRoute(route, mappedFields);
    } catch (error) {
      yaml.report(['routes', index, 'when'], `invalid condition: ${(error as Error).message}`);
      return compileRoute({ ...route, when: undefined });
    }
  });
}
