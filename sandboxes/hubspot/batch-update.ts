import { batchAnswer, contactJson, hubspotError } from './answers.ts';
import { Conflict, type PortalState, ValidationFailure } from './state.ts';

/**
 * `POST /crm/v3/objects/contacts/batch/update`, as HubSpot documents it
 * (developers.hubspot.com/docs/api-reference/crm-contacts-v3/batch/post-crm-v3-objects-contacts-batch-update):
 * each input names a contact by id (an id merged away reaches the merged record, as a
 * read does) and the properties to overwrite. Like the batch upsert, an invalid property
 * fails the whole batch (400) unless every input carries an `objectWriteTraceId`; a
 * contact that does not exist (deleted) or an email another contact holds is reported
 * for that input alone (207), with HubSpot's error shape and the trace id in `context`
 * beside the ids; one id twice fails the whole batch (400). The error bodies are HubSpot's
 * as integrators recorded them (rudderlabs/rudder-transformer,
 * test/integrations/destinations/hs/dataDelivery/updateMultiStatus.ts and business.ts).
 *
 * @example
 * batchUpdate(state, [{ id: '101', properties: { company: 'Acme' }, objectWriteTraceId: '7' }])
 * // { status: 200, body: { status: 'COMPLETE', results: [{ id: '101', …, objectWriteTraceId: '7' }], … } }
 */
export function batchUpdate(
  state: PortalState,
  inputs: Record<string, unknown>[],
): { status: number; body?: unknown } {
  if (inputs.length > 100) {
    return {
      status: 400,
      body: hubspotError('VALIDATION_ERROR', `Batch size ${inputs.length} exceeds the maximum of 100`),
    };
  }
  const ids = inputs.map((input) => String(input.id));
  const duplicates = [...new Set(ids.filter((id, index) => ids.indexOf(id) !== index))];
  if (duplicates.length > 0) {
    return {
      status: 400,
      body: {
        ...hubspotError(
          'VALIDATION_ERROR',
          `Duplicate IDs found in batch input: [${duplicates.join(', ')}]. IDs must be unique`,
        ),
        context: { ids: duplicates },
      },
    };
  }
  const traced = inputs.length > 0 && inputs.every((input) => typeof input.objectWriteTraceId === 'string');
  const problems = new Map<number, ValidationFailure>();
  inputs.forEach((input, index) => {
    try {
      state.validateContact((input.properties ?? {}) as Record<string, unknown>);
    } catch (error) {
      if (error instanceof ValidationFailure) problems.set(index, error);
    }
  });
  if (problems.size > 0 && !traced) {
    const first = [...problems.values()][0]!;
    return { status: 400, body: { ...hubspotError(first.category, first.message), errors: first.errors } };
  }
  const results: unknown[] = [];
  const errors: unknown[] = [];
  inputs.forEach((input, index) => {
    const trace = input.objectWriteTraceId ? { objectWriteTraceId: [input.objectWriteTraceId] } : {};
    const problem = problems.get(index);
    if (problem) {
      errors.push({
        ...hubspotError(problem.category, problem.message),
        errors: problem.errors,
        context: trace,
      });
      return;
    }
    const id = String(input.id);
    const contact = state.contactBy(id, typeof input.idProperty === 'string' ? input.idProperty : undefined);
    if (!contact) {
      errors.push({
        ...hubspotError(
          'OBJECT_NOT_FOUND',
          'Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid.',
        ),
        context: { ids: [id], ...trace },
      });
      return;
    }
    try {
      const updated = state.updateContact(contact, (input.properties ?? {}) as Record<string, unknown>);
      results.push({
        ...contactJson(updated),
        ...(input.objectWriteTraceId ? { objectWriteTraceId: input.objectWriteTraceId } : {}),
      });
    } catch (error) {
      if (!(error instanceof Conflict)) throw error;
      errors.push({ ...hubspotError('CONFLICT', error.message), context: trace });
    }
  });
  return batchAnswer(results, errors, 200);
}
