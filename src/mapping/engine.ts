import { Liquid } from 'liquidjs';
import { e164 } from './filters/e164.ts';
import { firstName, lastName } from './filters/names.ts';
import { type TranscriptFormat, transcript } from './filters/transcript.ts';

/**
 * The one template engine used for connector fields and route conditions.
 *
 * Sandboxed: `ownPropertyOnly` keeps templates away from prototypes
 * (`constructor`, `__proto__`); `templates: {}` replaces the file system, so
 * `{% include %}` and `{% render %}` cannot read files; parse and render
 * limits bound what a hostile template or event can cost. Strict filters turn
 * a misspelled filter into a load-time error instead of a silent empty value.
 */
export const engine = new Liquid({
  ownPropertyOnly: true,
  strictFilters: true,
  strictVariables: false,
  jsTruthy: false,
  templates: {},
  parseLimit: 100_000,
  // One render of one template: far above any real one (microseconds), low
  // enough that a template looping over a hostile payload cannot hold the
  // event loop for long. It is wall-clock time, so it must also stay far above
  // what a busy machine's scheduling or a GC pause adds to a real render: at
  // 100 ms a preset's template once failed on a loaded two-core machine, which
  // would have refused a genuine event (422) or killed a delivery.
  renderLimit: 1000,
  memoryLimit: 10_000_000,
});

/** Longest text the `json` filter returns: liquid's memory limit does not see a filter's own output. */
export const JSON_FILTER_LIMIT = 1_000_000;

/** Where `e164` reads numbers written without a country code; set from `mapping.phone_region`. */
export const filterSettings = { phoneRegion: 'US' };

engine.registerFilter('lower', (value: unknown) => (value == null ? '' : String(value).toLowerCase()));
engine.registerFilter('upper', (value: unknown) => (value == null ? '' : String(value).toUpperCase()));
engine.registerFilter('trim', (value: unknown) => (value == null ? '' : String(value).trim()));
engine.registerFilter('e164', (value: unknown, region?: string) =>
  e164(value, region ?? filterSettings.phoneRegion),
);
engine.registerFilter('first_name', firstName);
engine.registerFilter('last_name', lastName);
engine.registerFilter('transcript', (value: unknown, format?: string, limit?: number) =>
  transcript(value, (format ?? 'text') as TranscriptFormat, limit),
);
engine.registerFilter('iso_time', isoTime);
engine.registerFilter('json', (value: unknown) => {
  const text = JSON.stringify(value ?? null);
  if (text.length > JSON_FILTER_LIMIT)
    throw new Error(
      `json: the value is ${text.length} characters as JSON, over the ${JSON_FILTER_LIMIT} limit`,
    );
  return text;
});

/** Every filter a template may use, for "did you mean" suggestions. */
export function filterNames(): string[] {
  return Object.keys(engine.filters);
}

/**
 * A timestamp as ISO 8601 UTC: Unix seconds or milliseconds (number or
 * digits), or any date text `Date` reads; empty when it is none of these.
 */
function isoTime(value: unknown): string {
  if (value == null || value === '') return '';
  let date: Date;
  if (typeof value === 'number' || /^\d+(\.\d+)?$/.test(String(value))) {
    const n = Number(value);
    date = new Date(n < 1e11 ? n * 1000 : n);
  } else {
    date = new Date(String(value));
  }
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}
