import type { z } from 'zod';
import { didYouMeanSuffix } from '../util/did-you-mean.ts';
import type { KeyPath, YamlFile } from './yaml-file.ts';

/**
 * Validates a YAML file's data against a zod schema and reports each issue
 * on the file, at the offending key or value, with a "did you mean" for
 * misspelled keys and enum values.
 */
export function validateYaml<S extends z.ZodType>(file: YamlFile, schema: S): z.output<S> | undefined {
  const result = schema.safeParse(file.data);
  if (result.success) return result.data;
  for (const issue of result.error.issues) reportIssue(file, schema, issue);
  return undefined;
}

type Issue = z.core.$ZodIssue;

function reportIssue(file: YamlFile, schema: z.ZodType, issue: Issue, base: KeyPath = []): void {
  const path = [...base, ...(issue.path as (string | number)[])];
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeysAt(schema, path, file.data);
      for (const key of issue.keys) {
        file.report([...path, key], `unknown key "${key}"${didYouMeanSuffix(key, known)}`, { atKey: true });
      }
      return;
    }
    case 'invalid_value': {
      const allowed = issue.values.map(String);
      const actual = valueAt(file.data, path);
      const hint = typeof actual === 'string' ? didYouMeanSuffix(actual, allowed) : '';
      file.report(path, `must be one of ${allowed.map((v) => `"${v}"`).join(', ')}${hint}`);
      return;
    }
    case 'invalid_union': {
      const discriminator = (issue as { discriminator?: string }).discriminator;
      if (discriminator) {
        if (path[path.length - 1] === discriminator) path.pop();
        const allowed = discriminatorValues(schemaAt(schema, path, file.data, true), discriminator);
        const actual = valueAt(file.data, [...path, discriminator]);
        const hint = typeof actual === 'string' ? didYouMeanSuffix(actual, allowed) : '';
        const message = allowed.length
          ? `must be one of ${allowed.map((v) => `"${v}"`).join(', ')}${hint}`
          : issue.message;
        file.report([...path, discriminator], message);
        return;
      }
      // Report the branch that got furthest: the fewest issues is the best guess at what was meant.
      const best = [...issue.errors].sort((a, b) => a.length - b.length)[0];
      if (best) for (const inner of best) reportIssue(file, schema, inner, path);
      else file.report(path, issue.message);
      return;
    }
    case 'invalid_type': {
      const actual = valueAt(file.data, path);
      file.report(
        path,
        actual === undefined ? 'is required' : `expected ${issue.expected}, got ${describe(actual)}`,
      );
      return;
    }
    default:
      file.report(path, issue.message);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

export function valueAt(data: unknown, path: KeyPath): unknown {
  let current = data;
  for (const part of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[part];
  }
  return current;
}

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  valueType?: z.ZodType;
  element?: z.ZodType;
  options?: z.ZodType[];
  in?: z.ZodType;
  out?: z.ZodType;
  discriminator?: string;
}

function def(schema: z.ZodType): Def {
  return (schema as unknown as { _zod: { def: Def } })._zod.def;
}

/** Peels wrappers (optional, default, pipe…) and picks the union branch the data selects. */
function unwrap(schema: z.ZodType, data: unknown, keepUnion = false): z.ZodType {
  for (let i = 0; i < 20; i++) {
    const d = def(schema);
    if (d.innerType) schema = d.innerType;
    else if (d.type === 'pipe' && d.in && d.out) schema = def(d.in).type === 'transform' ? d.out : d.in;
    else if (d.type === 'union' && d.options && !keepUnion) {
      const match =
        d.options.find((option) => option.safeParse(data).success) ?? pickByDiscriminator(d, data);
      if (!match) return schema;
      schema = match;
    } else return schema;
  }
  return schema;
}

function pickByDiscriminator(d: Def, data: unknown): z.ZodType | undefined {
  if (!d.discriminator || !d.options) return d.options?.[0];
  const wanted = valueAt(data, [d.discriminator]);
  return (
    d.options.find((option) => discriminatorValues(option, d.discriminator!).includes(String(wanted))) ??
    d.options[0]
  );
}

function schemaAt(root: z.ZodType, path: KeyPath, data: unknown, keepUnion = false): z.ZodType {
  let schema = unwrap(root, data, keepUnion && path.length === 0);
  let current = data;
  for (const [index, part] of path.entries()) {
    current = valueAt(current, [part]);
    const d = def(schema);
    const next =
      d.type === 'object' ? d.shape?.[String(part)] : d.type === 'record' ? d.valueType : d.element;
    if (!next) return schema;
    schema = unwrap(next, current, keepUnion && index === path.length - 1);
  }
  return schema;
}

function knownKeysAt(root: z.ZodType, path: KeyPath, data: unknown): string[] {
  const d = def(schemaAt(root, path, data));
  return d.shape ? Object.keys(d.shape) : [];
}

function discriminatorValues(schema: z.ZodType, key: string): string[] {
  const d = def(schema);
  if (d.type === 'union' && d.options) return d.options.flatMap((option) => discriminatorValues(option, key));
  const field = d.shape?.[key];
  if (!field) return [];
  const values = (field as unknown as { _zod: { values?: Set<unknown> } })._zod.values;
  return values ? [...values].map(String) : [];
}
