/**
 * A source preset: the verify scheme a platform signs with (the admin adds
 * `secrets`) and a `map` in the same shape an admin would write in YAML.
 * Presets are plain data so they go through the very schema (and compile
 * step) a hand-written `map:` does, and docs/sources.md can show them.
 */
export interface SourcePreset {
  /** What the platform is, for docs and errors. */
  title: string;
  /** Verify defaults; the admin's `verify:` keys override these. */
  verify: Record<string, unknown> | undefined;
  map: Record<string, unknown>;
  /** Platform event → canonical type; anything else is recorded as ignored. */
  events: ReadonlyArray<readonly [platformEvent: string, canonicalType: string]>;
}
