import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { loadDatabaseSettings } from '../../config/load-database-settings.ts';
import type { Database } from '../../db/database.ts';
import { openStore } from '../../db/open-store.ts';
import type { DeliveryStatus } from '../../db/tables.ts';
import { EVENT_TYPES, type EventType } from '../../event/canonical-event.ts';
import { listDeliveries } from '../../outbox/list-deliveries.ts';
import { listEvents } from '../../outbox/list-events.ts';
import { retryDead } from '../../outbox/retry-dead.ts';
import { showEvent } from '../../outbox/show-event.ts';
import { didYouMeanSuffix } from '../../util/did-you-mean.ts';
import { parseDuration } from '../../util/units.ts';
import { formatTable, formatTime } from '../table.ts';
import { UsageError } from '../usage-error.ts';

const STATUSES: DeliveryStatus[] = ['pending', 'leased', 'delivered', 'dead'];

// Only the database settings: these commands work while the rest of the configuration is broken.
async function withStore<T>(configFile: string, run: (store: Database) => Promise<T>): Promise<T> {
  const store = await openExistingStore(configFile, (count) =>
    console.error(
      `note: ${configFile} has ${count} ${count === 1 ? 'problem' : 'problems'} outside database: (leadrelay check lists them); this command reads only database: and goes on`,
    ),
  );
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

/**
 * The outbox database of a configuration, when it exists; the caller closes
 * it. Reading the queue must not create an empty database where none is: that
 * would answer "No deliveries match." for a database.url (or DATABASE_URL)
 * that points at the wrong place.
 */
export async function openExistingStore(
  configFile: string,
  onOtherProblems?: (count: number) => void,
): Promise<Database> {
  const database = loadDatabaseSettings(configFile, onOtherProblems ? { onOtherProblems } : {});
  const file = database.url.startsWith('sqlite:') ? database.url.slice('sqlite:'.length) : undefined;
  if (file && file !== ':memory:' && !existsSync(resolve(file)))
    throw new UsageError(
      `no database at ${resolve(file)}: nothing has been stored there yet — check database.url in ${configFile} (or DATABASE_URL)`,
    );
  return (await openStore(database)).store;
}

export async function deliveriesList(
  configFile: string,
  options: {
    status?: string | undefined;
    connector?: string | undefined;
    json?: boolean | undefined;
    limit?: number;
  },
  print: (text: string) => void,
): Promise<number> {
  if (options.status && !STATUSES.includes(options.status as DeliveryStatus)) {
    throw new UsageError(`--status must be one of ${STATUSES.join(', ')}`);
  }
  const rows = await withStore(configFile, async (store) => {
    if (options.connector) await checkConnectorName(configFile, store, options.connector);
    return listDeliveries(store.db, {
      status: options.status as DeliveryStatus | undefined,
      connector: options.connector,
      limit: options.limit ?? 100,
    });
  });
  if (options.json) {
    print(JSON.stringify(rows, null, 2));
    return 0;
  }
  if (rows.length === 0) {
    print('No deliveries match.');
    return 0;
  }
  print(
    formatTable(
      ['id', 'event', 'type', 'connector', 'status', 'tries', 'next / last change', 'last error'],
      rows.map((row) => [
        row.id,
        row.eventId,
        row.type,
        row.connector,
        row.status,
        row.attempts,
        formatTime(row.status === 'pending' ? row.nextAttemptAt : row.updatedAt),
        row.lastError,
      ]),
    ),
  );
  return 0;
}

export async function deliveriesRetry(
  configFile: string,
  options: { ids: string[]; dead?: boolean | undefined; connector?: string | undefined },
  print: (text: string) => void,
): Promise<number> {
  if (!options.dead && options.ids.length === 0) {
    throw new UsageError('usage: leadrelay deliveries retry ID… | --dead [--connector NAME]');
  }
  const ids = options.ids.map((id) => {
    if (!/^\d+$/.test(id))
      throw new UsageError(`"${id}" is not a delivery id (see: leadrelay deliveries list)`);
    return Number(id);
  });
  const count = await withStore(configFile, async (store) => {
    if (options.connector) await checkConnectorName(configFile, store, options.connector);
    return retryDead(
      store.db,
      options.dead ? { allDead: true, connector: options.connector } : { ids },
      Date.now(),
    );
  });
  print(`${count} dead ${count === 1 ? 'delivery' : 'deliveries'} queued again`);
  if (!options.dead && count < ids.length)
    print('(only dead deliveries can be retried; the others were left as they are)');
  return 0;
}

/**
 * `--connector nosuch` would list nothing and look like an empty queue: the
 * name must be a connector file beside the configuration or appear in the
 * outbox (a connector since removed still has rows).
 */
async function checkConnectorName(configFile: string, store: Database, name: string): Promise<void> {
  const inOutbox = (await store.db.selectFrom('deliveries').select('connector').distinct().execute()).map(
    (row) => row.connector,
  );
  const folder = join(dirname(resolve(configFile)), 'connectors');
  const inFiles = existsSync(folder)
    ? readdirSync(folder)
        .filter((file) => /\.ya?ml$/.test(file))
        .map((file) => file.replace(/\.ya?ml$/, ''))
    : [];
  const known = [...new Set([...inFiles, ...inOutbox])].sort();
  if (known.includes(name)) return;
  throw new UsageError(
    `no connector named "${name}"${didYouMeanSuffix(name, known) || `; known: ${known.join(', ') || 'none'}`}`,
  );
}

/** `--since 2h` (an age) or `--since 2026-11-30` (a date or date-time), as Unix ms. */
export function parseSince(text: string, now: number): number {
  const age = parseDuration(text);
  if (age !== undefined) return now - age;
  const at = Date.parse(text);
  if (Number.isNaN(at))
    throw new UsageError(`--since takes an age (30m, 2h, 7d) or a date (2026-11-30), not "${text}"`);
  return at;
}

export async function eventsList(
  configFile: string,
  options: {
    email?: string | undefined;
    type?: string | undefined;
    source?: string | undefined;
    since?: string | undefined;
    limit?: number | undefined;
    json?: boolean | undefined;
  },
  print: (text: string) => void,
): Promise<number> {
  if (options.type !== undefined && !EVENT_TYPES.includes(options.type as EventType))
    throw new UsageError(`--type must be one of ${EVENT_TYPES.join(', ')}`);
  const from = options.since === undefined ? undefined : parseSince(options.since, Date.now());
  const { events } = await withStore(configFile, (store) =>
    listEvents(store, {
      email: options.email,
      type: options.type,
      source: options.source,
      from,
      limit: options.limit ?? 50,
    }),
  );
  if (options.json) {
    print(JSON.stringify(events, null, 2));
    return 0;
  }
  if (events.length === 0) {
    print('No events match.');
    return 0;
  }
  print(
    formatTable(
      ['event', 'received', 'source', 'type', 'status', 'email'],
      events.map((event) => [
        event.id,
        formatTime(event.receivedAt),
        event.source,
        event.type,
        event.status,
        event.contactEmail,
      ]),
    ),
  );
  return 0;
}

export async function eventsShow(
  configFile: string,
  id: string,
  options: { json?: boolean | undefined },
  print: (text: string) => void,
): Promise<number> {
  const detail = await withStore(configFile, (store) => showEvent(store.db, id));
  if (!detail) throw new UsageError(`no event with id "${id}"`);
  if (options.json) {
    print(JSON.stringify(detail, null, 2));
    return 0;
  }
  const lines = [
    `event ${detail.id}  (${detail.type}, source ${detail.source}, id ${detail.externalId})`,
    `received ${formatTime(detail.receivedAt)}`,
    '',
  ];
  for (const delivery of detail.deliveries) {
    lines.push(
      `→ ${delivery.connector}: ${delivery.status} after ${delivery.attempts} attempt(s)  [delivery ${delivery.id}]`,
    );
    if (delivery.lastError) lines.push(`  last error: ${delivery.lastError}`);
    if (delivery.result) lines.push(`  result: ${JSON.stringify(delivery.result)}`);
    for (const attempt of delivery.attemptLog) {
      const status = attempt.statusCode ? ` ${attempt.statusCode}` : '';
      const detailText = attempt.error ?? attempt.responseSummary ?? '';
      lines.push(
        `  ${formatTime(attempt.startedAt)}  ${attempt.outcome}${status}  ${attempt.durationMs} ms  ${attempt.requestSummary ?? ''}  ${detailText}`.trimEnd(),
      );
    }
  }
  if (detail.deliveries.length === 0) lines.push('(routed to no connector)');
  print(lines.join('\n'));
  return 0;
}

export async function eventsReplay(
  configFile: string,
  id: string,
  print: (text: string) => void,
): Promise<number> {
  // Replay routes the event again, so it needs the whole configuration.
  const [{ loadConfig }, { replayStoredEvent }] = await Promise.all([
    import('../../config/load-config.ts'),
    import('../../ingest/replay-event.ts'),
  ]);
  const config = await loadConfig(configFile);
  const replayed = await withStore(configFile, (store) =>
    replayStoredEvent(store.db, config.routes, id, Date.now()),
  );
  if (!replayed) throw new UsageError(`no event with id "${id}"`);
  if (replayed.deliveries.length === 0)
    print(`event ${replayed.eventId} is routed to no connector under the current configuration`);
  else
    print(
      `event ${replayed.eventId} queued again for ${replayed.connectors.join(', ')} (deliveries ${replayed.deliveries.join(', ')})`,
    );
  return 0;
}
