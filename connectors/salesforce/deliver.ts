import type { Connection, Record as SfRecord } from 'jsforce';
import { type DeliveryError, PermanentError } from '../errors.ts';
import type { DeliveryContext, DeliveryResult } from '../types.ts';
import { type SalesforceAuth, SalesforceClient } from './client.ts';
import { errorCodeOf, recordErrors } from './errors.ts';
import { findEarlierTasks, findRecords } from './find-records.ts';
import {
  deliveryResult,
  earlierAttemptMayHaveWritten,
  type Item,
  type SaveOutcome,
  type Target,
} from './item.ts';
import { knownRecords } from './known-records.ts';
import { ambiguousExternalId, ambiguousUrls } from './matching.ts';
import { fieldsFor, planEvent } from './plan.ts';
import type { RecordObject, SalesforceSettings } from './settings.ts';
import { writesTogether, writeTogether } from './write-together.ts';

const MAX_COLLECTION = 200;

/**
 * Delivers events in as few API calls as Salesforce allows (see README.md,
 * "What one event does"). For one event: its look-ups in one /composite
 * call, then its record and Task in another, all or none — 2 calls. For a
 * group: the look-ups in composite calls of up to five queries, one sObject
 * Collections call per kind of write (create, update, upsert) and object,
 * one for the new Tasks. On a retry only, a query for Tasks an earlier
 * attempt made. Every step records failures per event, so one bad record
 * never fails the others.
 *
 * @example
 * const [outcome] = await deliverMany(settings, auth, Date.now, [context]);
 */
export async function deliverMany(
  settings: SalesforceSettings,
  auth: SalesforceAuth,
  now: () => number,
  contexts: DeliveryContext[],
): Promise<(DeliveryResult | DeliveryError)[]> {
  const outcomes: (DeliveryResult | DeliveryError)[] = new Array(contexts.length);
  let pending: Item[] = [];
  contexts.forEach((context, index) => {
    const plan = planEvent(settings, context);
    if (plan instanceof PermanentError) outcomes[index] = plan;
    else pending.push({ index, plan });
  });
  // Events for the same person go in separate rounds, in order: a collection must not
  // create the same Lead twice or update one record twice, and a later event must find
  // what an earlier one of its conversation created (what a round resolved is `learnt`).
  const learnt: Record<string, string> = {};
  while (pending.length > 0) {
    const strong = new Set<string>();
    const weak = new Set<string>();
    const round: Item[] = [];
    const later: Item[] = [];
    for (const item of pending) {
      const { keys } = item.plan;
      if (
        keys.strong.some((key) => strong.has(key) || weak.has(key)) ||
        keys.weak.some((key) => strong.has(key))
      )
        later.push(item);
      else {
        for (const key of keys.strong) strong.add(key);
        for (const key of keys.weak) weak.add(key);
        round.push(item);
      }
    }
    if (Object.keys(learnt).length > 0 && settings.match.order.includes('known'))
      for (const item of round) item.plan.known = knownRecords(item.plan.context, learnt);
    const client = await SalesforceClient.open(settings, auth, now);
    const deferred = await new Round(settings, client).run(round);
    for (const item of round) {
      if (deferred.includes(item)) continue;
      if (item.error) {
        outcomes[item.index] = item.error;
        continue;
      }
      const result = deliveryResult(settings, item);
      outcomes[item.index] = result;
      if (result.identity) learn(learnt, item, result.identity.record);
    }
    pending = [...deferred, ...later].sort((a, b) => a.index - b.index);
  }
  return outcomes;
}

/** What a delivered event resolved, for later rounds of the same batch (as the worker will record it). */
function learn(learnt: Record<string, string>, item: Item, record: string): void {
  const identifiers = item.identity?.identifiers ?? item.plan.context.identifiers ?? [];
  for (const ref of item.identity?.replaces ?? [])
    for (const [identifier, known] of Object.entries(learnt)) if (known === ref) learnt[identifier] = record;
  for (const identifier of identifiers) learnt[identifier] = record;
}

class Round {
  constructor(
    private readonly settings: SalesforceSettings,
    private readonly client: SalesforceClient,
  ) {}

  /** Performs the items; returns those deferred to the next round (same record as an earlier item). */
  async run(items: Item[]): Promise<Item[]> {
    const { settings, client } = this;
    await findRecords(settings, client, items);
    const deferred = deferCollisions(items);
    const active = () => items.filter((item) => !item.error && !deferred.includes(item));
    // Check before redo, only where an earlier attempt may have written (item.ts).
    // With a Task external ID field the upsert needs no check.
    if (settings.task.enabled && !settings.task.external_id_field)
      await findEarlierTasks(
        settings,
        client,
        active().filter(
          (item) => item.plan.task && item.target!.existed && earlierAttemptMayHaveWritten(item.plan.context),
        ),
      );
    const live = active();
    // One event: its record and Task in one composite call, all or none.
    const together = live.length === 1 ? writesTogether(settings, live[0]!) : undefined;
    if (together) {
      await writeTogether(settings, client, live[0]!, together);
      return deferred;
    }
    // A Task found means its attempt wrote the record too: nothing more to write.
    await this.writeRecords(live.filter((item) => !item.taskFound));
    if (settings.task.enabled) await this.writeTasks(active());
    return deferred;
  }

  /* ---------------- records (several events: sObject Collections) ---------------- */

  private async writeRecords(items: Item[]): Promise<void> {
    const kinds: [Target['write'], RecordObject][] = [
      ['create', 'Lead'],
      ['create', 'Contact'],
      ['upsert', 'Lead'],
      ['upsert', 'Contact'],
      ['update', 'Lead'],
      ['update', 'Contact'],
    ];
    for (const [write, object] of kinds) {
      const group = items.filter(
        (item) => !item.error && item.target?.write === write && item.target.object === object,
      );
      if (group.length === 0) continue;
      const records = group.map((item) => fieldsFor(item.plan, item.target!));
      if (write === 'update') {
        // Nothing to change is not a reason for a call.
        const changes = group.filter((_, i) => Object.keys(records[i]!).length > 0);
        const bodies = records.filter((record) => Object.keys(record).length > 0);
        await this.save(
          'update',
          object,
          changes.map((item, i) => ({ item, record: { Id: item.target!.id!, ...bodies[i] } })),
          (item, saved) => {
            item.target!.id ??= saved.id;
          },
        );
        continue;
      }
      const field = write === 'upsert' ? this.settings.match.external_id_field! : undefined;
      await this.save(
        write,
        object,
        group.map((item, i) => {
          const record: SfRecord = { ...records[i] };
          if (field && item.plan.match) record[field] = item.plan.match.value;
          return { item, record };
        }),
        (item, saved) => {
          item.target!.id = saved.id ?? item.target!.id;
          if (write === 'upsert' && saved.created === false) item.target!.existed = true;
        },
        field,
      );
    }
    for (const item of items)
      if (!item.error && !item.target?.id)
        item.error = new PermanentError(
          `Salesforce saved the ${item.target?.object ?? 'record'} but returned no id`,
        );
  }

  /* ---------------- the transcript Tasks ---------------- */

  private async writeTasks(items: Item[]): Promise<void> {
    const externalIdField = this.settings.task.external_id_field;
    const toWrite = items.filter((item) => item.plan.task && item.target?.id && !item.taskId);
    await this.save(
      externalIdField ? 'upsert' : 'create',
      'Task',
      toWrite.map((item) => ({ item, record: { ...item.plan.task!.fields, WhoId: item.target!.id! } })),
      (item, saved) => {
        item.taskId = saved.id;
        item.taskFound = saved.created === false;
      },
      externalIdField,
    );
  }

  /**
   * One write for a group of records: the single-record endpoint for one,
   * sObject Collections (≤ 200 a call, allOrNone false) for more. Outcomes
   * land on the items; nothing is thrown.
   */
  private async save(
    write: Target['write'],
    object: string,
    entries: { item: Item; record: SfRecord }[],
    onSaved: (item: Item, saved: SaveOutcome) => void,
    externalIdField?: string,
  ): Promise<void> {
    for (let start = 0; start < entries.length; start += MAX_COLLECTION) {
      const chunk = entries.slice(start, start + MAX_COLLECTION);
      const nameOf = (entry: { item: Item }) =>
        write === 'update' ? `the update of ${object} ${entry.item.target!.id}` : `the ${object}`;
      let outcomes: SaveOutcome[];
      try {
        outcomes =
          chunk.length === 1
            ? [await this.saveOne(write, object, chunk[0]!, externalIdField, nameOf(chunk[0]!))]
            : await this.client.call(`the batch of ${chunk.length} ${object} records`, (conn) =>
                saveMany(
                  conn,
                  write,
                  object,
                  chunk.map((entry) => entry.record),
                  externalIdField,
                ),
              );
      } catch (error) {
        for (const entry of chunk) entry.item.error = error as DeliveryError;
        continue;
      }
      chunk.forEach((entry, i) => {
        const outcome = outcomes[i];
        if (outcome?.success) onSaved(entry.item, outcome);
        else if (
          object !== 'Task' &&
          outcome?.errors?.some((e) => (e.errorCode ?? e.statusCode) === 'DUPLICATE_EXTERNAL_ID')
        )
          entry.item.error = ambiguousExternalId(entry.item.plan.match!, outcome.errors);
        else entry.item.error = recordErrors(nameOf(entry), outcome?.errors ?? []);
      });
    }
  }

  private async saveOne(
    write: Target['write'],
    object: string,
    entry: { item: Item; record: SfRecord },
    externalIdField: string | undefined,
    what: string,
  ): Promise<SaveOutcome> {
    const { record } = entry;
    if (write === 'create') return this.client.call(what, (conn) => conn.create(object, record));
    if (write === 'update')
      return this.client.call(what, (conn) => conn.update(object, record as SfRecord & { Id: string }));
    const field = externalIdField!;
    const value = String(record[field]);
    // jsforce puts the value in the URL as it is: encode it (an email has @ and maybe + or /).
    const single = { ...record, [field]: encodeURIComponent(value) };
    return this.client.call(what, async (conn) => {
      try {
        return (await conn.upsert(object, single, field)) as SaveOutcome;
      } catch (error) {
        // 300 Multiple Choices: the external ID value is on several records.
        if (errorCodeOf(error) === 'MULTIPLE_CHOICES')
          throw ambiguousUrls(object, field, value, (error as { data?: unknown }).data);
        throw error;
      }
    });
  }
}

async function saveMany(
  conn: Connection,
  write: Target['write'],
  object: string,
  records: SfRecord[],
  externalIdField: string | undefined,
): Promise<SaveOutcome[]> {
  const options = { allOrNone: false };
  if (write === 'create') return (await conn.create(object, records, options)) as SaveOutcome[];
  if (write === 'update')
    return (await conn.update(object, records as (SfRecord & { Id: string })[], options)) as SaveOutcome[];
  return (await conn.upsert(object, records, externalIdField!, options)) as SaveOutcome[];
}

/** Two items that landed on the same existing record: the later one waits for the next round. */
function deferCollisions(items: Item[]): Item[] {
  const seen = new Set<string>();
  const deferred: Item[] = [];
  for (const item of items) {
    const id = item.target?.id;
    if (item.error || !id) continue;
    const key = id.slice(0, 15);
    if (seen.has(key)) deferred.push(item);
    seen.add(key);
  }
  return deferred;
}
