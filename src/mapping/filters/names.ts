/**
 * Splits a full name the way CRMs want it: the first word is the first name,
 * the rest the last name ("Mary Ann van der Berg" → "Mary" / "Ann van der Berg").
 * A single word is a first name with no last name. Words without a letter
 * or digit (an emoji, a lone dash) are decoration, not names: "Ano 🛼" is
 * first name "Ano" and no last name.
 *
 * @example
 * firstName('Dana Reyes') // 'Dana'
 * lastName('Dana Reyes')  // 'Reyes'
 */
export function firstName(value: unknown): string {
  return splitName(value)[0];
}

export function lastName(value: unknown): string {
  return splitName(value)[1];
}

function splitName(value: unknown): [string, string] {
  if (typeof value !== 'string') return ['', ''];
  // "Reyes, Dana" is a common CRM export order.
  const comma = value.indexOf(',');
  if (comma > 0) return [namePart(value.slice(comma + 1)), namePart(value.slice(0, comma))];
  const words = nameWords(value);
  return [words[0] ?? '', words.slice(1).join(' ')];
}

function namePart(text: string): string {
  return nameWords(text).join(' ');
}

function nameWords(text: string): string[] {
  return text
    .trim()
    .split(/\s+/)
    .filter((word) => /[\p{L}\p{N}]/u.test(word));
}
