import type { Connection, Record as SfRecord } from 'jsforce';
import type { DeliveryError } from '../errors.ts';
import type { SalesforceClient } from './client.ts';
import {
  MAX_COMPOSITE_QUERIES,
  type SubrequestResult,
  sendComposite,
  subrequestError,
  subrequestUrl,
} from './composite.ts';
import type { Item } from './item.ts';
import { sameId } from './matching.ts';
import { lookupObjects, lookupSoql, lookupWhere, queryUrl, taskLookupSoql } from './plan.ts';
import { type LookedUp, resolveRecord } from './resolve-record.ts';
import { RECORD_OBJECTS, type RecordObject, type SalesforceSettings } from './settings.ts';
import { chunkForSoql, soqlString } from './soql.ts';

/*
 * The reads of a delivery round: which record each event lands on (the
 * record it is known by, or by email, phone or external ID, following
 * converted Leads to their Contact; resolve-record.ts decides),
 * and, on a retry, whether an earlier attempt already made the event's Task.
 * Several look-ups travel in one /composite call (up to 5 queries, ONE API
 * request); a lone query goes as a plain GET, which costs the same.
 */

interface QueryPage {
  records: SfRecord[];
  done: boolean;
  nextRecordsUrl?: string;
}

/** One look-up: its SOQL, what it reads ("existing Leads"), and whom its failure fails. */
interface Lookup {
  soql: string;
  reads: string;
  items: Item[];
}

/**
 * Sets `target` (or `error`) on each item: the record it is known by, or
 * the one its email, phone or external ID finds (in `match.order`), or a
 * record to create; several records for one key are an ambiguous match,
 * never a guess. The known records are read by Id in the same queries
 * (`Id IN (…) OR Email IN (…) OR Phone IN (…)`), so knowing them costs no call.
 *
 * @example
 * await findRecords(settings, client, items); // items[0].target → { object: 'Lead', id: '00Q…', write: 'update', existed: true, foundBy: 'known' }
 */
export async function findRecords(
  settings: SalesforceSettings,
  client: SalesforceClient,
  items: Item[],
): Promise<void> {
  const extraField = settings.match.by === 'external_id' ? settings.match.external_id_field : undefined;
  const chunks = chunkForSoql(items, (item) =>
    [...item.plan.lookFor.map((key) => key.value), ...item.plan.known.map((known) => known.id)].reduce(
      (total, value) => total + encodeURIComponent(soqlString(value)).length + 4,
      0,
    ),
  );
  const lookups: (Lookup & { on: RecordObject })[] = chunks.flatMap((chunk) =>
    queriedObjects(settings, chunk).flatMap((on) => {
      const keys = lookupObjects(settings).includes(on) ? chunk.flatMap((item) => item.plan.lookFor) : [];
      const ids = chunk.flatMap((item) =>
        item.plan.known.filter((known) => known.object === on).map((known) => known.id),
      );
      const where = lookupWhere(keys, ids);
      if (!where) return [];
      return [
        {
          on,
          soql: lookupSoql(on, where, on === settings.object ? extraField : undefined),
          reads: `existing ${on}s`,
          items: chunk,
        },
      ];
    }),
  );
  const answers = await runQueries(settings, client, lookups);
  const seen = new Map<Item, LookedUp[]>(items.map((item) => [item, []]));
  lookups.forEach((lookup, index) => {
    const answer = answers[index]!;
    for (const item of lookup.items) {
      if (item.error) continue;
      if (!Array.isArray(answer)) item.error = answer;
      else seen.get(item)!.push(...answer.map((record) => ({ object: lookup.on, record })));
    }
  });
  for (const [item, answered] of seen) {
    if (item.error) continue;
    const { target, error, ...identity } = resolveRecord(settings, item.plan, answered);
    item.identity = identity;
    if (error) item.error = error;
    else item.target = target!;
  }
}

/** The objects a group's look-up asks: Lead and/or Contact for the keys, and whichever its known records are. */
function queriedObjects(settings: SalesforceSettings, chunk: Item[]): RecordObject[] {
  const objects = new Set<RecordObject>();
  if (chunk.some((item) => item.plan.lookFor.length > 0))
    for (const object of lookupObjects(settings)) objects.add(object);
  for (const item of chunk) for (const known of item.plan.known) objects.add(known.object);
  return RECORD_OBJECTS.filter((object) => objects.has(object));
}

/**
 * Check before redo: a Task carrying this event's marker on this record
 * means an earlier attempt made it (and, since a Task is only written with
 * or after its record, wrote the record too). Sets `taskId` and `taskFound`.
 */
export async function findEarlierTasks(
  settings: SalesforceSettings,
  client: SalesforceClient,
  items: Item[],
): Promise<void> {
  const lookups: Lookup[] = chunkForSoql(items, (item) => 60 + item.plan.task!.marker!.length).map(
    (chunk) => ({
      soql: taskLookupSoql(
        chunk.map((item) => ({ whoId: item.target!.id!, marker: item.plan.task!.marker! })),
      ),
      reads: 'Tasks from earlier attempts',
      items: chunk,
    }),
  );
  const answers = await runQueries(settings, client, lookups);
  lookups.forEach((lookup, index) => {
    const tasks = answers[index]!;
    for (const item of lookup.items) {
      if (!Array.isArray(tasks)) {
        item.error = tasks;
        continue;
      }
      const marker = item.plan.task!.marker!.toLowerCase();
      const task = tasks.find(
        (t) =>
          sameId(String(t.WhoId ?? ''), item.target!.id!) &&
          String(t.Subject ?? '')
            .toLowerCase()
            .endsWith(marker),
      );
      if (task?.Id) {
        item.taskId = task.Id;
        item.taskFound = true;
      }
    }
  });
}

/**
 * Runs queries in as few API calls as Salesforce allows: one plain GET for
 * a single query, else composite calls of up to five. Every page of each
 * answer is read (`nextRecordsUrl`). Each query's outcome is its records or
 * the DeliveryError that failed it.
 */
async function runQueries(
  settings: SalesforceSettings,
  client: SalesforceClient,
  lookups: Lookup[],
): Promise<(SfRecord[] | DeliveryError)[]> {
  if (lookups.length === 1) {
    const [only] = lookups;
    try {
      return [
        await client.call(`the look-up of ${only!.reads}`, async (conn) =>
          allPages(conn, await conn.request<QueryPage>(queryUrl(settings, only!.soql))),
        ),
      ];
    } catch (error) {
      return [error as DeliveryError];
    }
  }
  const outcomes: (SfRecord[] | DeliveryError)[] = [];
  for (let start = 0; start < lookups.length; start += MAX_COMPOSITE_QUERIES) {
    const group = lookups.slice(start, start + MAX_COMPOSITE_QUERIES);
    const referenceIds = group.map((_, i) => `query${start + i}`);
    const what = `the look-up of ${describeGroup(group)}`;
    try {
      const pages = await client.call(what, async (conn) => {
        const answers = await sendComposite(
          conn,
          settings,
          what,
          false,
          group.map((lookup, i) => ({
            method: 'GET',
            url: subrequestUrl(settings, `/query?q=${encodeURIComponent(lookup.soql)}`),
            referenceId: referenceIds[i]!,
          })),
        );
        // Later pages of a long answer are plain GETs of its nextRecordsUrl.
        return Promise.all(
          referenceIds.map(async (id): Promise<SfRecord[] | SubrequestResult> => {
            const result = answers.get(id)!;
            return result.httpStatusCode === 200 ? allPages(conn, result.body as QueryPage) : result;
          }),
        );
      });
      pages.forEach((page, i) => {
        outcomes.push(
          Array.isArray(page) ? page : subrequestError(`the look-up of ${group[i]!.reads}`, page),
        );
      });
    } catch (error) {
      for (const _ of group) outcomes.push(error as DeliveryError);
    }
  }
  return outcomes;
}

async function allPages(conn: Connection, first: QueryPage): Promise<SfRecord[]> {
  let page = first;
  const records = [...page.records];
  while (!page.done && page.nextRecordsUrl) {
    page = await conn.request<QueryPage>(page.nextRecordsUrl);
    records.push(...page.records);
  }
  return records;
}

/** What a group of look-ups reads: "existing Leads and Contacts". */
function describeGroup(group: Lookup[]): string {
  const reads = [...new Set(group.map((lookup) => lookup.reads))];
  const existing = reads.every((text) => text.startsWith('existing '));
  const names = existing ? reads.map((text) => text.slice('existing '.length)) : reads;
  const list = names.length === 1 ? names[0]! : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
  return existing ? `existing ${list}` : list;
}
