import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { hubspotConnector } from './hubspot/index.ts';
import { salesforceConnector } from './salesforce/index.ts';
import { slackConnector } from './slack/index.ts';
import type { ConnectorType } from './types.ts';
import { webhookConnector } from './webhook/index.ts';

/**
 * The connector types leadrelay ships, by the name a connector file's
 * `type:` uses. The core reaches connectors only through this registry.
 */
const BUILT_IN: ReadonlyMap<string, ConnectorType> = new Map<string, ConnectorType>(
  [webhookConnector, hubspotConnector, salesforceConnector, slackConnector].map((type) => [
    type.type,
    type as unknown as ConnectorType,
  ]),
);

export function builtInTypes(): ConnectorType[] {
  return [...BUILT_IN.values()];
}

export function builtInTypeNames(): string[] {
  return [...BUILT_IN.keys()];
}

/** A `type:` that names a module rather than a built-in: `./x.js`, `../x.ts`, `/abs/x.js`, `@scope/pkg`, `pkg/sub`. */
export function isModuleReference(type: string): boolean {
  return type.startsWith('.') || isAbsolute(type) || type.includes('/');
}

/**
 * A built-in type by name, or a third-party type loaded from a module path
 * (relative to the connector file's folder) whose default export — or export
 * named `connector` — is a {@link ConnectorType}.
 */
export async function resolveConnectorType(
  type: string,
  fromDir: string,
): Promise<ConnectorType | undefined> {
  const builtIn = BUILT_IN.get(type);
  if (builtIn) return builtIn;
  if (!isModuleReference(type)) return undefined;
  const specifier =
    type.startsWith('.') || isAbsolute(type) ? pathToFileURL(resolve(fromDir, type)).href : type;
  await typeScriptLoader();
  const module = (await import(specifier)) as { default?: unknown; connector?: unknown };
  const candidate = module.default ?? module.connector;
  if (!isConnectorType(candidate)) {
    throw new Error(`${type} does not export a connector type (an object with type, settings and create)`);
  }
  return candidate;
}

function isConnectorType(value: unknown): value is ConnectorType {
  if (!value || typeof value !== 'object') return false;
  const candidate = value as Partial<ConnectorType>;
  return typeof candidate.type === 'string' && typeof candidate.create === 'function' && !!candidate.settings;
}

let loader: Promise<void> | undefined;
/**
 * Compiled (dist/), leadrelay has no TypeScript loader, yet a third-party
 * connector may be TypeScript, and `leadrelay/connector` resolves to the
 * TypeScript sources: register tsx before the first such import. From the
 * sources, it is registered already.
 */
function typeScriptLoader(): Promise<void> {
  if (!import.meta.url.endsWith('.js')) return Promise.resolve();
  loader ??= import('tsx/esm/api').then(({ register }) => {
    register();
  });
  return loader;
}
