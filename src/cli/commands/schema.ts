import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { configJsonSchemas } from '../../config/json-schema.ts';

/** Writes the JSON Schemas into `schemaDir`; returns the files written. */
export function writeSchemas(schemaDir: string): string[] {
  const written: string[] = [];
  for (const [name, schema] of Object.entries(configJsonSchemas())) {
    const file = join(schemaDir, name);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(schema, null, 2)}\n`);
    written.push(file);
  }
  return written;
}
