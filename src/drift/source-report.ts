import type { RecentSourceEvent } from '../outbox/recent-source-events.ts';

/**
 * What a source sent lately and whether it changed: the newest `window`
 * events ("recent") against the `window` before them ("earlier"). Computed
 * from stored events alone (no state of its own), so the CLI, the admin page,
 * `/metrics` and the alerts agree. Values are never read, only which canonical
 * fields were present and the payloads' shape (paths and JSON types).
 */
export interface SourceReport {
  source: string;
  lastEventAt: number | null;
  /** Over the recent window: canonical type (or `ignored`) → count. */
  counts: Record<string, number>;
  /** The platform's own event names in the recent window (`event`, `topic` or `type` of its body) → count. */
  platformEvents: Record<string, number>;
  recentSize: number;
  earlierSize: number;
  /** Canonical fields of accepted events: the share of events carrying each, recent vs earlier. */
  fields: FieldPresence[];
  /** Paths of the platform's payloads (`a.b[]`) whose share changed by half or more. */
  shapeChanges: ShapeChange[];
  ignoredShare: { recent: number; earlier: number };
  warnings: DriftWarning[];
}

export interface FieldPresence {
  path: string;
  recent: number;
  earlier: number;
}

export interface ShapeChange {
  path: string;
  type: string;
  recent: number;
  earlier: number;
}

export interface DriftWarning {
  /** Stable while the condition lasts, so it is alerted once. */
  key: string;
  message: string;
}

/** Thresholds (docs/operations.md, "Drift watch"). */
export const DRIFT = {
  window: 50,
  /** Each window needs this many events before anything is compared. */
  minimum: 20,
  /** A field "used to be present": at least this share of the earlier window… */
  wasPresent: 0.8,
  /** …and "stopped arriving": at most this share of the recent one. */
  nowMissing: 0.5,
  /** The ignored share "jumped": up by at least this much, to at least `ignoredHigh`. */
  ignoredJump: 0.3,
  ignoredHigh: 0.5,
};

/** The report for `events` (newest first, up to two windows). */
export function sourceReport(source: string, events: readonly RecentSourceEvent[]): SourceReport {
  const recent = events.slice(0, DRIFT.window);
  const earlier = events.slice(DRIFT.window, DRIFT.window * 2);
  const counts: Record<string, number> = {};
  const platformEvents: Record<string, number> = {};
  for (const event of recent) {
    const type = event.status === 'ignored' ? 'ignored' : event.type;
    counts[type] = (counts[type] ?? 0) + 1;
    const name = platformEventName(event);
    platformEvents[name] = (platformEvents[name] ?? 0) + 1;
  }
  const fields = presence(recent, earlier, (event) =>
    event.status === 'ignored' ? undefined : canonicalPaths(event),
  );
  const shapes = presence(recent, earlier, (event) => shapePaths(event));
  const ignored = (list: readonly RecentSourceEvent[]) =>
    list.length === 0 ? 0 : list.filter((event) => event.status === 'ignored').length / list.length;
  const report: SourceReport = {
    source,
    lastEventAt: events[0]?.receivedAt ?? null,
    counts,
    platformEvents,
    recentSize: recent.length,
    earlierSize: earlier.length,
    fields: fields.map(({ path, recent: r, earlier: e }) => ({ path, recent: r, earlier: e })),
    shapeChanges: shapes
      .filter((shape) => Math.abs(shape.recent - shape.earlier) >= 0.5)
      .map(({ path, recent: r, earlier: e }) => {
        const [name, type] = path.split('\u0000') as [string, string];
        return { path: name, type, recent: r, earlier: e };
      }),
    ignoredShare: { recent: ignored(recent), earlier: ignored(earlier) },
    warnings: [],
  };
  if (recent.length < DRIFT.minimum || earlier.length < DRIFT.minimum) return report;

  // Fields are compared over accepted events only; when most are ignored, that is the warning.
  const accepted = (list: readonly RecentSourceEvent[]) =>
    list.filter((event) => event.status !== 'ignored').length;
  const comparable = accepted(recent) >= DRIFT.minimum && accepted(earlier) >= DRIFT.minimum;
  for (const field of comparable ? report.fields : []) {
    if (field.earlier >= DRIFT.wasPresent && field.recent <= DRIFT.nowMissing)
      report.warnings.push({
        key: `field-missing:${field.path}`,
        message: `${field.path} is missing in ${percent(1 - field.recent)} of the last ${recent.length} events (it was in ${percent(field.earlier)} of the ${earlier.length} before): the platform may have changed its payload, or the mapping reads the wrong path`,
      });
  }
  const seenBefore = new Set(earlier.map(platformEventName));
  for (const [name, count] of Object.entries(platformEvents)) {
    if (!seenBefore.has(name))
      report.warnings.push({
        key: `new-event:${name}`,
        message: `a new kind of event, "${name}", arrived ${count} time${count === 1 ? '' : 's'} in the last ${recent.length} (not among the ${earlier.length} before)`,
      });
  }
  const { recent: nowIgnored, earlier: wasIgnored } = report.ignoredShare;
  if (nowIgnored - wasIgnored >= DRIFT.ignoredJump && nowIgnored >= DRIFT.ignoredHigh)
    report.warnings.push({
      key: 'ignored-jump',
      message: `${percent(nowIgnored)} of the last ${recent.length} events were ignored (${percent(wasIgnored)} of the ${earlier.length} before): the mapping's type rules may no longer match what the platform sends`,
    });
  return report;
}

/** The platform's name for an event: its body's `event`, `topic` or `type` (Chatwoot, Crisp; Intercom, Tidio; Drift, canonical). */
export function platformEventName(event: RecentSourceEvent): string {
  const body = parse(event.status === 'ignored' ? event.payload : (event.rawPayload ?? event.payload));
  for (const key of ['event', 'topic', 'type']) {
    const value = body?.[key];
    if (typeof value === 'string' && value !== '') return value.slice(0, 100);
  }
  return event.status === 'ignored' ? 'ignored' : event.type;
}

function presence(
  recent: readonly RecentSourceEvent[],
  earlier: readonly RecentSourceEvent[],
  pathsOf: (event: RecentSourceEvent) => Set<string> | undefined,
): FieldPresence[] {
  const share = (list: readonly RecentSourceEvent[]) => {
    const counts = new Map<string, number>();
    let n = 0;
    for (const event of list) {
      const paths = pathsOf(event);
      if (!paths) continue;
      n++;
      for (const path of paths) counts.set(path, (counts.get(path) ?? 0) + 1);
    }
    return { counts, n };
  };
  const a = share(recent);
  const b = share(earlier);
  const paths = [...new Set([...a.counts.keys(), ...b.counts.keys()])].sort();
  return paths.map((path) => ({
    path,
    recent: a.n === 0 ? 0 : (a.counts.get(path) ?? 0) / a.n,
    earlier: b.n === 0 ? 0 : (b.counts.get(path) ?? 0) / b.n,
  }));
}

/** Leaf paths of the canonical event that hold a non-empty value (`conversation.messages` as one). */
function canonicalPaths(event: RecentSourceEvent): Set<string> {
  const paths = new Set<string>();
  const walk = (value: unknown, path: string) => {
    if (value === null || value === undefined || value === '') return;
    if (Array.isArray(value)) {
      if (value.length > 0) paths.add(path);
      return;
    }
    if (typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) walk(inner, path ? `${path}.${key}` : key);
      return;
    }
    if (path !== 'id' && path !== 'type') paths.add(path);
  };
  walk(parse(event.payload), '');
  return paths;
}

/** Paths and JSON types of the platform's body, three levels deep; arrays as `[]` over their first item. */
function shapePaths(event: RecentSourceEvent): Set<string> {
  const paths = new Set<string>();
  const walk = (value: unknown, path: string, depth: number) => {
    const type = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
    if (path) paths.add(`${path}\u0000${type}`);
    if (depth === 3) return;
    if (Array.isArray(value)) {
      if (value.length > 0) walk(value[0], `${path}[]`, depth + 1);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) walk(inner, path ? `${path}.${key}` : key, depth + 1);
    }
  };
  walk(parse(event.status === 'ignored' ? event.payload : (event.rawPayload ?? event.payload)), '', 0);
  return paths;
}

function parse(text: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function percent(share: number): string {
  return `${Math.round(share * 100)}%`;
}
