/** What a signature check concluded; `reason` is safe to show the sender. */
export type Verdict = { ok: true } | { ok: false; reason: string };

export type HeaderLookup = (name: string) => string | undefined;

export const VERIFIED: Verdict = { ok: true };

export function rejected(reason: string): Verdict {
  return { ok: false, reason };
}

/** Checks a Unix-seconds timestamp header against a tolerance in both directions. */
export function checkTimestamp(value: string | undefined, toleranceMs: number, nowMs: number): Verdict {
  if (value === undefined) return rejected('missing timestamp header');
  if (!/^\d{1,12}$/.test(value.trim())) return rejected('timestamp header is not Unix seconds');
  const skew = Math.abs(nowMs - Number(value) * 1000);
  if (skew > toleranceMs) return rejected('timestamp outside the allowed tolerance');
  return VERIFIED;
}
