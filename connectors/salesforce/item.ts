import type { DeliveryError } from '../errors.ts';
import type { DeliveryContext, DeliveryResult } from '../types.ts';
import type { SalesforceError } from './errors.ts';
import type { EventPlan } from './plan.ts';
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

/**
 * A delivered item's result: its record, the Task, links for admins and other connectors.
 *
 * @example
 * deliveryResult(settings, item).summary // 'Lead 00Q5g… created, task 00T5g… created'
 */
export function deliveryResult(settings: SalesforceSettings, item: Item): DeliveryResult {
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
