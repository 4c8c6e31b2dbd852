import type { DeliveryError } from '../errors.ts';
import type { DeliveryContext, DeliveryResult } from '../types.ts';
import type { SalesforceError } from './errors.ts';
import { recordRef } from './known-records.ts';
import type { EventPlan } from './plan.ts';
import type { Resolution } from './resolve-record.ts';
import type { RecordObject, SalesforceSettings } from './settings.ts';

/** Where one event lands. */
export interface Target {
  object: RecordObject;
  /** Known after the look-up for existing records, after the write for new ones. */
  id?: string | undefined;
  /** create: POST; update: PATCH by Id; upsert: PATCH by external ID. */
  write: 'create' | 'update' | 'upsert';
  /** The record was there before this attempt (so an earlier attempt may have made its Task). */
  existed: boolean;
  convertedFrom?: string | undefined;
  /** How an existing record was found: the identity map (`known`), the email, the phone or the external ID. */
  foundBy?: 'known' | 'email' | 'phone' | 'external_id' | undefined;
  /** The record has an email of its own, other than the event's: it is not overwritten. */
  keepEmail?: boolean | undefined;
}

/** One event in a delivery round, and what the round learned about it so far. */
export interface Item {
  index: number;
  plan: EventPlan;
  target?: Target;
  taskId?: string;
  /** The Task was there already: an earlier attempt made it (found by its marker, or an upsert that updated). */
  taskFound?: boolean;
  /** Set when the item failed; later steps skip it. */
  error?: DeliveryError;
  /** What the look-up made of the identity map: conflicts, records gone or converted (resolve-record.ts). */
  identity?: Omit<Resolution, 'target' | 'error'>;
}

export type SaveOutcome = { success?: boolean; id?: string; created?: boolean; errors?: SalesforceError[] };

/**
 * Whether an earlier attempt of this delivery may have written to Salesforce:
 * a retry (the engine counts an attempt when it starts, so a worker that died
 * mid-call leaves the count raised), or a row with attempts on record before
 * (`deliveries retry` starts the count over but keeps the history, which
 * `earlierAttemptsEndedBy` reflects). Only then can a Task of this event
 * already be there, so only then is it looked for.
 *
 * @example
 * earlierAttemptMayHaveWritten({ ...context, attempt: 1, earlierAttemptsEndedBy: undefined }) // false
 */
export function earlierAttemptMayHaveWritten(
  context: Pick<DeliveryContext, 'attempt' | 'earlierAttemptsEndedBy'>,
): boolean {
  return context.attempt > 1 || context.earlierAttemptsEndedBy !== undefined;
}

/**
 * How messages name an item's record write.
 *
 * @example
 * whatOf(item) // 'the Lead', or 'the update of Contact 0035g…'
 */
export function whatOf(item: Item): string {
  const target = item.target!;
  return target.write === 'update' ? `the update of ${target.object} ${target.id}` : `the ${target.object}`;
}

/** The identity map's side of a result: the record, and when not all identifiers map to it, which do. */
export interface SalesforceIdentity {
  record: string;
  identifiers?: readonly string[];
  /** Records that are gone (deleted, or a Lead converted into this Contact): every identifier the map had for them now means this record. */
  replaces?: readonly string[];
}

/**
 * A delivered item's result: its record, the Task, links for admins and other
 * connectors, and what the identity map should remember.
 *
 * @example
 * deliveryResult(settings, item).summary // 'Lead 00Q5g… created, task 00T5g… created'
 */
export function deliveryResult(settings: SalesforceSettings, item: Item): DeliveryResult {
  const target = item.target!;
  const action = target.existed ? 'updated' : 'created';
  const link = (object: string, id: string) => `${settings.instance_url}/lightning/r/${object}/${id}/view`;
  const notes: string[] = [];
  if (target.convertedFrom) notes.push(`Lead ${target.convertedFrom} was converted`);
  const resolved = item.identity;
  const gone = resolved?.gone ?? [];
  if (gone.length > 0) notes.push(`${gone.map(spaced).join(', ')} no longer in Salesforce`);
  if (target.foundBy && target.foundBy !== 'email' && target.foundBy !== 'external_id')
    notes.push(`found by ${target.foundBy === 'known' ? 'an earlier delivery' : 'phone'}`);
  if (target.keepEmail) notes.push(`its own email kept, not ${item.plan.email}`);
  const conflict = resolved?.conflict;
  if (conflict)
    notes.push(
      `${conflict.identifier ?? 'the email'} belongs to ${conflict.used.object} ${conflict.used.id}, not to ${conflict.known.object} ${conflict.known.id} this person resolved to before: nothing merged`,
    );
  const task = item.taskId ? `, task ${item.taskId} ${item.taskFound ? 'already there' : 'created'}` : '';
  const record = recordRef(target.object, target.id!);
  const identity: SalesforceIdentity = {
    record,
    ...(resolved?.identifiers ? { identifiers: resolved.identifiers } : {}),
    ...(resolved && resolved.replaces.length > 0 ? { replaces: resolved.replaces } : {}),
  };
  return {
    summary: `${target.object} ${target.id} ${action}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}${task}`,
    statusCode: target.existed ? 200 : 201,
    data: {
      object: target.object,
      id: target.id,
      action,
      ...(target.foundBy ? { found_by: target.foundBy } : {}),
      ...(target.convertedFrom ? { converted_lead_id: target.convertedFrom } : {}),
      ...(gone.length > 0 ? { gone } : {}),
      ...(target.keepEmail ? { email_not_written: item.plan.email } : {}),
      ...(conflict
        ? {
            conflict: {
              identifier: conflict.identifier,
              known: recordRef(conflict.known.object, conflict.known.id),
              used: recordRef(conflict.used.object, conflict.used.id),
              links: [
                {
                  label: `${conflict.known.object} ${conflict.known.id} (known for this person)`,
                  url: link(conflict.known.object, conflict.known.id),
                },
                {
                  label: `${conflict.used.object} ${conflict.used.id} (has ${conflict.identifier ?? 'the email'}; delivered here)`,
                  url: link(conflict.used.object, conflict.used.id),
                },
              ],
            },
          }
        : {}),
      ...(item.taskId ? { task_id: item.taskId, task: item.taskFound ? 'existing' : 'created' } : {}),
      links: [{ label: 'Open in Salesforce', url: link(target.object, target.id!) }],
    },
    ...(item.plan.context.identifiers ? { identity } : {}),
  };
}

/** `Lead:00Q…` as prose: `Lead 00Q…`. */
function spaced(ref: string): string {
  return ref.replace(':', ' ');
}
