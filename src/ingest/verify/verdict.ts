/** What a signature check concluded; `reason` is safe to show the sender. */
export type Verdict = { ok: true } | { ok: false; reason: string };

export type HeaderLookup = (name: string) => string | undefined;

export const VERIFIED: Verdict = { ok: true };

export function rejected(reason: string): Verdict {
  return { ok: false, reason };
}

/**
 * Checks a Unix timestamp header against a tolerance in both directions.
 * Unix seconds; with `allowMilliseconds`, a 13-digit value is read as Unix
 * milliseconds (for senders that do not document the unit, e.g. Crisp's
 * `X-Crisp-Request-Timestamp`; seconds will not reach 13 digits for millennia).
 */
export function checkTimestamp(
  value: string | undefined,
  toleranceMs: number,
  nowMs: number,
  allowMilliseconds = false,
): Verdict {
  if (value === undefined) return rejected('missing timestamp header');
  const text = value.trim();
  let atMs: number;
  if (/^\d{1,12}$/.test(text)) atMs = Number(text) * 1000;
  else if (allowMilliseconds && /^\d{13}$/.test(text)) atMs = Number(text);
  else
    return rejected(
      allowMilliseconds
        ? 'timestamp is not Unix seconds or milliseconds'
        : 'timestamp header is not Unix seconds',
    );
  const skew = Math.abs(nowMs - atMs);
  if (skew > toleranceMs) return rejected('timestamp outside the allowed tolerance');
  return VERIFIED;
}
