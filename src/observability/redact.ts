/**
 * Personal data out of logs and alerts (docs/operations.md, "PII policy").
 *
 * Values under keys that hold contact data or conversation text are replaced
 * whole; every other string is scrubbed of email- and phone-shaped
 * substrings, which is what catches a destination's error message quoting
 * the contact ("contact dana@acme.example already exists").
 */

export const REDACTED = '[redacted]';

/** Keys whose values are replaced whole (compared lower-case; `*email*` and `*phone*` match anywhere). */
const SENSITIVE_KEYS = new Set([
  'email',
  'phone',
  'text',
  'body',
  'payload',
  'contact',
  'messages',
  'transcript',
  'comment',
  'first_name',
  'last_name',
  'full_name',
]);

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
/** A run of digits with phone separators; kept only when it has 9–15 digits (see `maskPhone`). */
const PHONE = /\+?\(?\d[\d\s().-]{6,}\d/g;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

export function isSensitiveKey(key: string): boolean {
  const lower = key.toLowerCase();
  return SENSITIVE_KEYS.has(lower) || lower.includes('email') || lower.includes('phone');
}

/** `text` with email addresses and phone numbers replaced by `[email]` / `[phone]`. */
export function scrubText(text: string): string {
  if (text.length < 7) return text;
  return text.replace(EMAIL, '[email]').replace(PHONE, maskPhone);
}

function maskPhone(candidate: string): string {
  const digits = candidate.replace(/\D/g, '').length;
  if (digits < 9 || digits > 15) return candidate;
  // Bare digit runs are ids and timestamps far more often than phone numbers.
  if (!/^\+|[\s().-]/.test(candidate)) return candidate;
  if (IPV4.test(candidate.trim())) return candidate;
  return '[phone]';
}

/**
 * A copy of `value` with personal data masked: sensitive keys at any depth,
 * email/phone substrings in every string, errors as plain objects with
 * scrubbed message and stack. Cycles and very deep values are cut.
 */
export function redact(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value) || depth > 8) return '[…]';
  seen.add(value);
  if (value instanceof Error) {
    const plain: Record<string, unknown> = {
      type: value.name,
      message: scrubText(value.message),
      ...(value.stack ? { stack: scrubText(value.stack) } : {}),
    };
    for (const [key, inner] of Object.entries(value))
      plain[key] = isSensitiveKey(key) ? REDACTED : redact(inner, depth + 1, seen);
    if (value.cause !== undefined) plain.cause = redact(value.cause, depth + 1, seen);
    return plain;
  }
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1, seen));
  if (value instanceof Date) return value;
  const copy: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value))
    copy[key] =
      isSensitiveKey(key) && inner !== undefined && inner !== null
        ? REDACTED
        : redact(inner, depth + 1, seen);
  return copy;
}
