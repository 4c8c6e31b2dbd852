/**
 * `${VAR}` and `${VAR:-default}` in YAML strings, so secrets live in the
 * environment rather than in files. `$${X}` stays a literal `${X}`.
 *
 * @example
 * interpolate('Bearer ${TOKEN}', { TOKEN: 'abc' }) // { value: 'Bearer abc', missing: [] }
 * interpolate('${PORT:-3000}', {})                 // { value: '3000', missing: [] }
 */
export interface Interpolated {
  value: string;
  /** Variables that were referenced without a default and are not set, with their offset. */
  missing: { name: string; offset: number }[];
}

const PATTERN = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export function interpolate(text: string, env: Record<string, string | undefined>): Interpolated {
  const missing: Interpolated['missing'] = [];
  const value = text.replace(PATTERN, (whole, escaped: string, name: string, fallback, offset: number) => {
    if (escaped) return whole.slice(1);
    const current = env[name];
    if (fallback !== undefined) return current === undefined || current === '' ? fallback : current;
    if (current === undefined) {
      missing.push({ name, offset });
      return '';
    }
    return current;
  });
  return { value, missing };
}

export function hasInterpolation(text: string): boolean {
  return text.includes('${');
}
