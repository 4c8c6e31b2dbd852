import { Liquid } from 'liquidjs';

/**
 * The one template engine used for connector fields and route conditions.
 * `ownPropertyOnly` keeps templates away from prototypes (`constructor`,
 * `__proto__`), and strict filters turn a misspelled filter into a load-time
 * error instead of a silent empty value at delivery.
 */
export const engine = new Liquid({
  ownPropertyOnly: true,
  strictFilters: true,
  strictVariables: false,
  jsTruthy: false,
});
