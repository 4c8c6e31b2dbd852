import type { RouteConfig } from '../config/main-schema.ts';
import { canonicalPathProblem } from '../event/canonical-fields.ts';
import { type Condition, compileCondition } from '../mapping/condition.ts';

/** A route ready to match: its condition compiled once, at load time. */
export interface CompiledRoute {
  types: ReadonlySet<string> | 'all';
  sources: ReadonlySet<string> | 'all';
  when: Condition | undefined;
  to: readonly string[];
}

/**
 * Throws for a bad `when:` (grammar, filters, or a field the canonical event
 * does not have); the loader turns it into `file:line:col`. `mappedFields` are
 * the dotted fields this configuration's source mappings write, which a
 * condition may also read.
 */
export function compileRoute(
  route: RouteConfig,
  mappedFields: ReadonlySet<string> = new Set(),
): CompiledRoute {
  const on = Array.isArray(route.on) ? route.on : [route.on];
  const from = route.from === undefined ? undefined : Array.isArray(route.from) ? route.from : [route.from];
  return {
    types: on.includes('*') ? 'all' : new Set(on),
    sources: from ? new Set(from) : 'all',
    when:
      route.when === undefined
        ? undefined
        : compileCondition(route.when, (path) => canonicalPathProblem(path.segments, mappedFields)),
    to: route.to,
  };
}

/**
 * The connectors an event goes to: the union of every matching route's `to`,
 * each connector once, in the order routes list them.
 */
export function routeEvent(
  routes: readonly CompiledRoute[],
  source: string,
  event: { type: string },
): string[] {
  const connectors = new Set<string>();
  for (const route of routes) {
    if (route.types !== 'all' && !route.types.has(event.type)) continue;
    if (route.sources !== 'all' && !route.sources.has(source)) continue;
    if (route.when && !route.when(event)) continue;
    for (const name of route.to) connectors.add(name);
  }
  return [...connectors];
}

/** Why a route did or did not take an event, for previews. */
export interface RouteDecision {
  /** Position in `routes:` (0-based). */
  index: number;
  to: readonly string[];
  matched: boolean;
  /** What stopped it: `type`, `source` or `when`; undefined when it matched. */
  failed?: 'type' | 'source' | 'when';
}

/** {@link routeEvent}, route by route: each route's verdict and the first test it failed. */
export function explainRoutes(
  routes: readonly CompiledRoute[],
  source: string,
  event: { type: string },
): RouteDecision[] {
  return routes.map((route, index) => {
    const failed =
      route.types !== 'all' && !route.types.has(event.type)
        ? 'type'
        : route.sources !== 'all' && !route.sources.has(source)
          ? 'source'
          : route.when && !route.when(event)
            ? 'when'
            : undefined;
    return { index, to: route.to, matched: failed === undefined, ...(failed ? { failed } : {}) };
  });
}
