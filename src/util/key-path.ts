export type KeyPath = readonly PropertyKey[];

/**
 * `['sources', 'bot', 'secrets', 0]` → `sources.bot.secrets[0]`, the form every
 * error message uses for a field.
 */
export function formatPath(path: KeyPath): string {
  let text = '';
  for (const part of path) {
    if (typeof part === 'number') text += `[${part}]`;
    else text += text === '' ? String(part) : `.${String(part)}`;
  }
  return text;
}
