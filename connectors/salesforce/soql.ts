/**
 * SOQL string literals. Values from events are always quoted and escaped
 * here, never pasted into a query: `o'brien@x.example` is a valid email.
 */
const ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '"': '\\"',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

/**
 * A quoted SOQL string literal.
 *
 * @example
 * soqlString("o'brien@x.example") // "'o\\'brien@x.example'"
 */
export function soqlString(value: string): string {
  return `'${value.replace(/[\\'"\n\r\t\b\f]/g, (c) => ESCAPES[c]!)}'`;
}

/** A quoted LIKE pattern that matches `value` literally at the end (`%` and `_` escaped). */
export function soqlEndsWith(value: string): string {
  const quoted = soqlString(value);
  return `'%${quoted.slice(1, -1).replace(/[%_]/g, (c) => `\\${c}`)}'`;
}

/** `Field IN ('a', 'b')`, or `Field = 'a'` for one value. */
export function soqlIn(field: string, values: readonly string[]): string {
  if (values.length === 1) return `${field} = ${soqlString(values[0]!)}`;
  return `${field} IN (${values.map(soqlString).join(', ')})`;
}

/**
 * Splits values into groups whose SOQL stays well under the REST API's URL
 * length limit (the query travels in the query string of a GET).
 */
export function chunkForSoql<T>(values: readonly T[], size: (value: T) => number, budget = 6000): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let used = 0;
  for (const value of values) {
    const cost = size(value) + 4;
    if (current.length > 0 && used + cost > budget) {
      chunks.push(current);
      current = [];
      used = 0;
    }
    current.push(value);
    used += cost;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
