import type { Connection, Record as SfRecord } from 'jsforce';
import { type DeliveryError, PermanentError } from '../errors.ts';
import type { DeliveryContext, DeliveryResult } from '../types.ts';
import { type SalesforceAuth, SalesforceClient } from './client.ts';
import { errorCodeOf, recordErrors, type SalesforceError } from './errors.ts';
import {
  ambiguous,
  ambiguousExternalId,
  ambiguousUrls,
  dedupe,
  type Found,
  matches,
  sameId,
} from './matching.ts';
import { type EventPlan, lookupSoql, lookupWhere, planEvent, queryUrl, taskLookupSoql } from './plan.ts';
import type { RecordObject, SalesforceSettings } from './settings.ts';
import { chunkForSoql, soqlString } from './soql.ts';

/** Where one event lands. */
interface Target {
  object: RecordObject;
  /** Known after the look-up for existing records, after the write for new ones. */
  id?: string | undefined;
  /** create: POST; update: PATCH by Id; upsert: PATCH by external ID. */
  write: 'create' | 'update' | 'upsert';
  /** The record was there before this attempt (so an earlier attempt may have made its Task). */
  existed: boolean;
  convertedFrom?: string | undefined;
}

interface Item {
  index: number;
  plan: EventPlan;
  target?: Target;
  taskId?: string;
  taskFound?: boolean;
  /** Set when the item failed; later steps skip it. */
  error?: DeliveryError;
}

type SaveOutcome = { success?: boolean; id?: string; created?: boolean; errors?: SalesforceError[] };

const MAX_COLLECTION = 200;

/**
 * Delivers events in as few calls as Salesforce allows: one look-up query
 * per object for the whole group, one sObject Collections call per kind of
 * write (create, update, upsert) and object, one query for Tasks of earlier
 * attempts, one call for the new Tasks. A single event uses the single-
 * record endpoints. Every step records failures per event, so one bad
 * record never fails the others.
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
  // Events for the same record go in separate rounds, in order: a collection
  // must not create the same Lead twice or update one record twice.
  while (pending.length > 0) {
    const keys = new Set<string>();
    const round: Item[] = [];
    const later: Item[] = [];
    for (const item of pending) {
      if (keys.has(item.plan.key)) later.push(item);
      else {
        keys.add(item.plan.key);
        round.push(item);
      }
    }
    const client = await SalesforceClient.open(settings, auth, now);
    const deferred = await new Round(settings, client).run(round);
    for (const item of round)
      if (!deferred.includes(item)) outcomes[item.index] = item.error ?? result(settings, item);
    pending = [...deferred, ...later].sort((a, b) => a.index - b.index);
  }
  return outcomes;
}

class Round {
  constructor(
    private readonly settings: SalesforceSettings,
    private readonly client: SalesforceClient,
  ) {}

  /** Performs the items; returns those deferred to the next round (same record as an earlier item). */
  async run(items: Item[]): Promise<Item[]> {
    await this.resolve(items);
    const deferred = this.deferCollisions(items);
    const active = () => items.filter((item) => !item.error && !deferred.includes(item));
    await this.writeRecords(active());
    if (this.settings.task.enabled) await this.writeTasks(active());
    return deferred;
  }

  /* ---------------- 1. find existing records ---------------- */

  private async resolve(items: Item[]): Promise<void> {
    const object = this.settings.object;
    const byExternalId = this.settings.match.by === 'external_id';
    const objects: RecordObject[] = object === 'Lead' && !byExternalId ? ['Lead', 'Contact'] : [object];
    const extraField = byExternalId ? this.settings.match.external_id_field : undefined;
    const chunks = chunkForSoql(
      items,
      (item) => encodeURIComponent(soqlString(item.plan.match.value)).length,
    );
    for (const chunk of chunks) {
      const found = new Map<Item, Found[]>(chunk.map((item) => [item, []]));
      for (const on of objects) {
        const live = chunk.filter((item) => !item.error);
        if (live.length === 0) break;
        const soql = lookupSoql(on, lookupWhere(live.map((item) => item.plan.match)), extraField);
        let records: SfRecord[];
        try {
          records = await this.query(`the look-up of existing ${on}s`, soql);
        } catch (error) {
          for (const item of live) item.error = error as DeliveryError;
          continue;
        }
        for (const item of live)
          for (const record of records.filter((r) => matches(r, item.plan.match))) {
            if (record.IsConverted === true) {
              if (record.ConvertedContactId)
                found
                  .get(item)!
                  .push({ object: 'Contact', id: record.ConvertedContactId, convertedFrom: record.Id });
            } else found.get(item)!.push({ object: on, id: record.Id! });
          }
      }
      for (const [item, candidates] of found) {
        if (item.error) continue;
        const distinct = dedupe(candidates);
        if (distinct.length > 1) item.error = ambiguous(item.plan.match, distinct);
        else if (distinct.length === 1) {
          const only = distinct[0]!;
          item.target = {
            object: only.object,
            id: only.id,
            existed: true,
            convertedFrom: only.convertedFrom,
            write: byExternalId && only.object === object && !only.convertedFrom ? 'upsert' : 'update',
          };
        } else item.target = { object, existed: false, write: byExternalId ? 'upsert' : 'create' };
      }
    }
  }

  /** Two items that landed on the same existing record: the later one waits for the next round. */
  private deferCollisions(items: Item[]): Item[] {
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

  /* ---------------- 2. create or update them ---------------- */

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
      const records = group.map((item) => {
        const target = item.target!;
        return target.existed ? item.plan.updateFields(object) : item.plan.createFields(object);
      });
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
          if (field) record[field] = item.plan.match.value;
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

  /* ---------------- 3. the transcript Task ---------------- */

  private async writeTasks(items: Item[]): Promise<void> {
    const withTask = items.filter((item) => item.plan.task && item.target?.id);
    const externalIdField = this.settings.task.external_id_field;
    if (!externalIdField) await this.findEarlierTasks(withTask.filter((item) => item.target!.existed));
    const toWrite = withTask.filter((item) => !item.error && !item.taskId);
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

  /** Check before redo: a Task carrying this event's marker on this record means an earlier attempt made it. */
  private async findEarlierTasks(items: Item[]): Promise<void> {
    const chunks = chunkForSoql(items, (item) => 60 + item.plan.task!.marker!.length);
    for (const chunk of chunks) {
      const soql = taskLookupSoql(
        chunk.map((item) => ({ whoId: item.target!.id!, marker: item.plan.task!.marker! })),
      );
      let tasks: SfRecord[];
      try {
        tasks = await this.query('the look-up of Tasks from earlier attempts', soql);
      } catch (error) {
        for (const item of chunk) item.error = error as DeliveryError;
        continue;
      }
      for (const item of chunk) {
        const task = tasks.find(
          (t) =>
            sameId(String(t.WhoId ?? ''), item.target!.id!) &&
            String(t.Subject ?? '')
              .toLowerCase()
              .endsWith(item.plan.task!.marker!.toLowerCase()),
        );
        if (task?.Id) {
          item.taskId = task.Id;
          item.taskFound = true;
        }
      }
    }
  }

  /* ---------------- calls ---------------- */

  private async query(what: string, soql: string): Promise<SfRecord[]> {
    return this.client.call(what, async (conn) => {
      let page = await conn.request<QueryPage>(queryUrl(this.settings, soql));
      const records = [...page.records];
      while (!page.done && page.nextRecordsUrl) {
        page = await conn.request<QueryPage>(page.nextRecordsUrl);
        records.push(...page.records);
      }
      return records;
    });
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
      const whatOf = (entry: { item: Item }) =>
        write === 'update' ? `the update of ${object} ${entry.item.target!.id}` : `the ${object}`;
      let outcomes: SaveOutcome[];
      try {
        outcomes =
          chunk.length === 1
            ? [await this.saveOne(write, object, chunk[0]!, externalIdField, whatOf(chunk[0]!))]
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
          entry.item.error = ambiguousExternalId(entry.item.plan.match, outcome.errors);
        else entry.item.error = recordErrors(whatOf(entry), outcome?.errors ?? []);
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

interface QueryPage {
  records: SfRecord[];
  done: boolean;
  nextRecordsUrl?: string;
}

function result(settings: SalesforceSettings, item: Item): DeliveryResult {
  const target = item.target!;
  const action = target.existed ? 'updated' : 'created';
  const converted = target.convertedFrom ? ` (Lead ${target.convertedFrom} was converted)` : '';
  const task = item.taskId ? `, task ${item.taskId} ${item.taskFound ? 'already there' : 'created'}` : '';
  return {
    summary: `${target.object} ${target.id} ${action}${converted}${task}`,
    statusCode: target.existed ? 200 : 201,
    data: {
      object: target.object,
      id: target.id,
      action,
      ...(target.convertedFrom ? { converted_lead_id: target.convertedFrom } : {}),
      ...(item.taskId ? { task_id: item.taskId, task: item.taskFound ? 'existing' : 'created' } : {}),
      links: [
        {
          label: 'Open in Salesforce',
          url: `${settings.instance_url}/lightning/r/${target.object}/${target.id}/view`,
        },
      ],
    },
  };
}
