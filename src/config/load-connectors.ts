import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { z } from 'zod';
import { builtInTypeNames, isModuleReference, resolveConnectorType } from '../../connectors/registry.ts';
import type { Connector, ConnectorEnvironment } from '../../connectors/types.ts';
import { didYouMeanSuffix } from '../util/did-you-mean.ts';
import { validateYaml } from './schema-problems.ts';
import { YamlFile } from './yaml-file.ts';

export interface LoadedConnectors {
  connectors: Map<string, Connector>;
  /** Each connector's file, for error messages and the admin. */
  files: Map<string, string>;
  /** Files read, including those with problems (their problems are on them). */
  yamlFiles: YamlFile[];
}

const NAME = /^[a-z0-9][a-z0-9_-]*$/i;

/**
 * Reads `connectors/NAME.yaml` beside the main file: each is validated
 * against its type's schema and built into a {@link Connector}. Problems are
 * left on the returned files for the caller to report together.
 */
export async function loadConnectors(
  configDir: string,
  env: Record<string, string | undefined>,
  environment: ConnectorEnvironment,
): Promise<LoadedConnectors> {
  const folder = join(configDir, 'connectors');
  const result: LoadedConnectors = { connectors: new Map(), files: new Map(), yamlFiles: [] };
  if (!existsSync(folder)) return result;
  const files = readdirSync(folder)
    .filter((file) => ['.yaml', '.yml'].includes(extname(file)))
    .sort();
  for (const fileName of files) {
    const file = join(folder, fileName);
    const name = basename(fileName, extname(fileName));
    const yaml = YamlFile.read(file, env);
    result.yamlFiles.push(yaml);
    if (yaml.problems.length > 0) continue;
    if (!NAME.test(name)) {
      yaml.report([], `connector file names use letters, digits, - and _ ("${name}" does not)`);
      continue;
    }
    if (result.files.has(name)) {
      yaml.report([], `a connector named "${name}" is already defined in ${result.files.get(name)}`);
      continue;
    }
    const connector = await loadConnector(yaml, name, environment);
    if (connector) {
      result.connectors.set(name, connector);
      result.files.set(name, file);
    }
  }
  return result;
}

async function loadConnector(yaml: YamlFile, name: string, environment: ConnectorEnvironment) {
  const data = yaml.data as Record<string, unknown> | null;
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    yaml.report([], 'a connector file is a mapping with at least `type:`');
    return undefined;
  }
  const typeName = data.type;
  if (typeof typeName !== 'string' || typeName === '') {
    yaml.report(['type'], `is required: one of ${builtInTypeNames().join(', ')}, or a module path`);
    return undefined;
  }
  let type: Awaited<ReturnType<typeof resolveConnectorType>>;
  try {
    type = await resolveConnectorType(typeName, dirname(yaml.file));
  } catch (error) {
    yaml.report(['type'], `could not load connector module: ${(error as Error).message}`);
    return undefined;
  }
  if (!type) {
    const hint = isModuleReference(typeName) ? '' : didYouMeanSuffix(typeName, builtInTypeNames());
    yaml.report(
      ['type'],
      `unknown connector type "${typeName}"${hint}; built in: ${builtInTypeNames().join(', ')}`,
    );
    return undefined;
  }
  const settings = validateYaml(yaml, type.settings.extend({ type: z.string() }));
  if (!settings) return undefined;
  const { type: _type, ...rest } = settings as Record<string, unknown>;
  try {
    return type.create(name, rest as never, environment);
  } catch (error) {
    yaml.report([], `connector could not be set up: ${(error as Error).message}`);
    return undefined;
  }
}
