import { z } from 'zod';
import { builtInTypes } from '../../connectors/registry.ts';
import { mainConfigSchema } from './main-schema.ts';

type JsonSchema = Record<string, unknown>;

/**
 * JSON Schemas for editors (yaml-language-server): one for the main file, one
 * per connector type, and one for any connector file (chosen by `type`).
 * Generated from the same zod schemas the loader validates with, so they
 * cannot drift. Returned as file name (relative to `config/schema/`) → schema.
 */
export function configJsonSchemas(): Record<string, JsonSchema> {
  const files: Record<string, JsonSchema> = {
    'leadrelay.schema.json': {
      ...toJsonSchema(mainConfigSchema),
      title: 'leadrelay main configuration (config/leadrelay.yaml)',
    },
  };
  const variants: JsonSchema[] = [];
  for (const type of builtInTypes()) {
    const schema = toJsonSchema(type.settings.extend({ type: z.literal(type.type) }));
    schema.title = `leadrelay connector: ${type.type}`;
    schema.description = type.description;
    files[`connectors/${type.type}.schema.json`] = schema;
    const { $schema: _ignored, ...variant } = schema;
    variants.push(variant);
  }
  files['connector.schema.json'] = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'leadrelay connector file (config/connectors/NAME.yaml)',
    oneOf: variants,
  };
  return files;
}

function toJsonSchema(schema: z.ZodType): JsonSchema {
  return allowInterpolation(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema);
}

const INTERPOLATION = { type: 'string', pattern: '\\$\\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\\}' };

/**
 * Any scalar may be written as `${VAR}` in YAML; without this an editor would
 * flag `port: ${PORT:-3000}` or `secrets: ["${SECRET}"]` as wrong.
 */
function allowInterpolation(node: JsonSchema): JsonSchema {
  const copy: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties' || key === '$defs') {
      copy[key] = Object.fromEntries(
        Object.entries(value as Record<string, JsonSchema>).map(([name, child]) => [
          name,
          allowInterpolation(child),
        ]),
      );
    } else if (key === 'items' || key === 'additionalProperties') {
      copy[key] =
        typeof value === 'object' && value !== null ? allowInterpolation(value as JsonSchema) : value;
    } else if (key === 'anyOf' || key === 'oneOf' || key === 'allOf') {
      copy[key] = (value as JsonSchema[]).map(allowInterpolation);
    } else {
      copy[key] = value;
    }
  }
  const type = copy.type;
  const scalar = typeof type === 'string' ? type !== 'object' && type !== 'array' : Array.isArray(type);
  const constrained = copy.pattern !== undefined || copy.enum !== undefined || type !== 'string';
  if (!scalar || !constrained || copy.const !== undefined) return copy;
  const { default: defaultValue, description, ...rest } = copy;
  return {
    ...(description === undefined ? {} : { description }),
    ...(defaultValue === undefined ? {} : { default: defaultValue }),
    anyOf: [rest, INTERPOLATION],
  };
}
