import type { RouteConfig } from '../config/main-schema.ts';
import { type Condition, compileCondition } from '../mapping/condition.ts';

/** A route ready to match: its condition compiled once, at load time. */
export interface CompiledRoute {
  types: ReadonlySet<string> | 'all';
  sources: ReadonlySet<string> | 'all';
  when: Condition | undefined;
  to: readonly string[];
}

/** Throws the template engine's error for a bad `when:`; the loader turns it into `file:line:col`. */
export function compileRoute(route: RouteConfig): CompiledRoute {
  const on = Array.isArray(route.on) ? route.on : [route.on];
  const from = route.from === undefined ? undefined : Array.isArray(route.from) ? route.from : [route.from];
  return {
    types: on.includes('*') ? 'all' : new Set(on),
    sources: from ? new Set(from) : 'all',
    when: route.when === undefined ? undefined : compileCondition(route.when),
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
