import { type DeliveryError, PermanentError, RetryableError } from '../errors.ts';
import type { SalesforceClient } from './client.ts';
import {
  errorsOf,
  onlyHalted,
  reference,
  type SubrequestResult,
  sendComposite,
  subrequestError,
  subrequestUrl,
  succeeded,
} from './composite.ts';
import { codeOf, describeError } from './errors.ts';
import { type Item, whatOf } from './item.ts';
import { ambiguousExternalId, ambiguousUrls } from './matching.ts';
import { recordWrite, taskWrite, type WriteRequest } from './plan.ts';
import type { SalesforceSettings } from './settings.ts';

/*
 * One event's record and its transcript Task in ONE API call: a /composite
 * call with two subrequests, `allOrNone: true`. The Task names a new record
 * by reference (`WhoId: "@{record.id}"`), an existing one by its id. Both
 * are written or neither is: a Task that Salesforce refuses rolls the record
 * back too, and the delivery fails with the Task's error (retried or dead by
 * its code, as any error), so the next attempt starts from a clean state
 * instead of a record without its Task. A crash between this call and the
 * outcome being recorded leaves both or nothing; the retry finds both
 * (find-records.ts) and writes nothing more.
 */

/** The subrequests' referenceIds; `@{record.id}` is the new record's id. */
const RECORD = 'record';
const TASK = 'task';

/**
 * The record write and the Task write of `item`, when it needs both (else
 * undefined: one write alone goes as a single call, which costs the same).
 */
export function writesTogether(
  settings: SalesforceSettings,
  item: Item,
): { record: WriteRequest; task: WriteRequest } | undefined {
  const target = item.target!;
  if (!item.plan.task || item.taskId) return undefined;
  const record = recordWrite(item.plan, target, target.id);
  if (!record) return undefined;
  return { record, task: taskWrite(settings, item.plan, target.id ?? reference(RECORD)) };
}

/**
 * Sends both writes in one composite call and records the outcome on the
 * item: ids on success, else the error of the subrequest that failed (the
 * other one was rolled back).
 *
 * @example
 * const writes = writesTogether(settings, item);
 * if (writes) await writeTogether(settings, client, item, writes);
 */
export async function writeTogether(
  settings: SalesforceSettings,
  client: SalesforceClient,
  item: Item,
  writes: { record: WriteRequest; task: WriteRequest },
): Promise<void> {
  const target = item.target!;
  const subrequest = (write: WriteRequest, referenceId: string) => ({
    method: write.method,
    url: subrequestUrl(settings, write.path),
    referenceId,
    body: write.body,
  });
  let answers: Map<string, SubrequestResult>;
  try {
    const what = `${whatOf(item)} and its Task`;
    answers = await client.call(what, (conn) =>
      sendComposite(conn, settings, what, true, [
        subrequest(writes.record, RECORD),
        subrequest(writes.task, TASK),
      ]),
    );
  } catch (error) {
    item.error = error as DeliveryError;
    return;
  }
  const record = answers.get(RECORD)!;
  const task = answers.get(TASK)!;
  if (succeeded(record) && succeeded(task)) {
    const saved = (record.body ?? {}) as { id?: string; created?: boolean };
    target.id = saved.id ?? target.id;
    if (target.write === 'upsert' && saved.created === false) target.existed = true;
    const savedTask = (task.body ?? {}) as { id?: string; created?: boolean };
    if (savedTask.id) item.taskId = savedTask.id;
    item.taskFound = savedTask.created === false;
    if (!target.id)
      item.error = new PermanentError(`Salesforce saved the ${target.object} but returned no id`);
    return;
  }
  item.error = failure(item, record, task);
}

/** The error of the subrequest that caused the rollback; the other one only answers PROCESSING_HALTED. */
function failure(item: Item, record: SubrequestResult, task: SubrequestResult): DeliveryError {
  const target = item.target!;
  if (!succeeded(record) && !onlyHalted(record)) {
    const match = item.plan.match;
    if (match?.by === 'external_id' && target.write === 'upsert') {
      // 300 Multiple Choices: the external ID value is on several records.
      if (record.httpStatusCode === 300)
        return ambiguousUrls(target.object, match.field, match.value, record.body);
      const errors = errorsOf(record);
      if (errors.some((error) => codeOf(error) === 'DUPLICATE_EXTERNAL_ID'))
        return ambiguousExternalId(match, errors);
    }
    if (target.existed && errorsOf(record).some((error) => codeOf(error) === 'CANNOT_UPDATE_CONVERTED_LEAD'))
      return convertedMeanwhile(item, record);
    return subrequestError(whatOf(item), record);
  }
  if (!succeeded(task) && !onlyHalted(task)) {
    const error = subrequestError('the Task', task);
    const undone = target.existed
      ? `the update of ${target.object} ${target.id} was rolled back with it`
      : `the new ${target.object} was rolled back with it`;
    return withNote(error, ` (${undone}: the record and its Task are written together or not at all)`);
  }
  return new RetryableError(
    `Salesforce rolled back ${whatOf(item)} and its Task without naming a cause: ${[
      ...errorsOf(record),
      ...errorsOf(task),
    ]
      .map(describeError)
      .join('; ')}`,
    { statusCode: record.httpStatusCode },
  );
}

/**
 * The Lead was open when the look-up read it and converted before the write:
 * the next attempt's look-up follows it to its Contact, so this is a retry,
 * not a dead delivery. (A record deleted in between answers ENTITY_IS_DELETED,
 * retried anyway: the next look-up finds it gone and finds or creates another.)
 */
function convertedMeanwhile(item: Item, record: SubrequestResult): DeliveryError {
  const error = subrequestError(whatOf(item), record);
  return new RetryableError(
    `${error.message} (converted in Salesforce after this attempt looked it up: the next attempt follows it to its Contact)`,
    { statusCode: record.httpStatusCode },
  );
}

function withNote(error: DeliveryError, note: string): DeliveryError {
  const options = {
    ...(error.statusCode === undefined ? {} : { statusCode: error.statusCode }),
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    ...(error.response === undefined ? {} : { response: error.response }),
  };
  return error.retryable
    ? new RetryableError(`${error.message}${note}`, options)
    : new PermanentError(`${error.message}${note}`, options);
}
