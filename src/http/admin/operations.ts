import type { ConfigHolder } from '../../config/config-holder.ts';
import type { Database } from '../../db/database.ts';
import { replayStoredEvent } from '../../ingest/replay-event.ts';
import { deliveryStatus } from '../../outbox/delivery-status.ts';
import { retryDead } from '../../outbox/retry-dead.ts';

/** What the admin API and the admin page both do; each renders the outcome its own way. */
export interface AdminDependencies {
  config: ConfigHolder;
  store: Database;
  now: () => number;
  /** Wakes an in-process delivery worker after a retry or replay (a separate worker finds the rows when it polls). */
  wake?: (() => void) | undefined;
}

export type RetryOutcome = { ok: true } | { ok: false; status: 404 | 409; error: string; message: string };

export async function retryOne(deps: AdminDependencies, id: number): Promise<RetryOutcome> {
  const count = await retryDead(deps.store.db, { ids: [id] }, deps.now());
  if (count === 1) {
    deps.wake?.();
    return { ok: true };
  }
  const status = await deliveryStatus(deps.store.db, id);
  if (!status) return { ok: false, status: 404, error: 'not_found', message: `no delivery ${id}` };
  return {
    ok: false,
    status: 409,
    error: 'not_dead',
    message: `delivery ${id} is ${status}; only dead deliveries can be retried`,
  };
}

export async function retryConnector(deps: AdminDependencies, connector: string): Promise<number> {
  const count = await retryDead(deps.store.db, { allDead: true, connector }, deps.now());
  if (count > 0) deps.wake?.();
  return count;
}

/** Queues an event again for the connectors its routes name under the current configuration. */
export async function replay(
  deps: AdminDependencies,
  id: string,
): Promise<{ eventId: string; connectors: string[]; deliveries: number[] } | undefined> {
  const replayed = await replayStoredEvent(deps.store.db, deps.config.current.routes, id, deps.now());
  if (replayed && replayed.deliveries.length > 0) deps.wake?.();
  return replayed;
}

export interface ConfigStatus {
  file: string;
  loadedAt: string;
  lastRejectedChange: { error: string; at: string } | null;
  sources: string[];
  routes: number;
  connectors: { name: string; type: string; file: string | null }[];
}

export function configStatus(holder: ConfigHolder): ConfigStatus {
  const config = holder.current;
  return {
    file: config.file,
    loadedAt: config.loadedAt.toISOString(),
    lastRejectedChange: holder.lastError
      ? { error: holder.lastError.message, at: holder.lastError.at.toISOString() }
      : null,
    sources: Object.keys(config.main.sources),
    routes: config.routes.length,
    connectors: [...config.connectors].map(([name, connector]) => ({
      name,
      type: connector.type,
      file: config.connectorFiles.get(name) ?? null,
    })),
  };
}
