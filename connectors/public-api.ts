/**
 * `leadrelay/connector`: everything a connector needs, and the only thing a
 * connector outside this repository may import from leadrelay.
 *
 * @example
 * import { commonSettings, defineConnectorType, limitsFrom, RetryableError, renderFields, templateMap, z } from 'leadrelay/connector';
 *
 * export default defineConnectorType({
 *   type: 'crm-x',
 *   description: 'POST the lead to CRM X',
 *   settings: z.strictObject({ ...commonSettings({ concurrency: 4 }), url: z.url(), fields: templateMap() }),
 *   create(name, settings) {
 *     return {
 *       name,
 *       type: 'crm-x',
 *       limits: limitsFrom(settings),
 *       preview: (context) => [{ method: 'POST', url: settings.url, body: renderFields(settings.fields, context.event) }],
 *       async deliver(context) {
 *         const response = await fetch(settings.url, { method: 'POST', body: JSON.stringify(renderFields(settings.fields, context.event)) });
 *         if (!response.ok) throw new RetryableError(`HTTP ${response.status}`, { statusCode: response.status });
 *         return { summary: `HTTP ${response.status}` };
 *       },
 *     };
 *   },
 * });
 */
export { z } from 'zod';
export { renderFields } from '../src/mapping/template.ts';
export { templateField, templateMap } from '../src/mapping/template-field.ts';
export { duration } from '../src/util/duration.ts';
export { commonSettings, limitsFrom } from './common-settings.ts';
export {
  DeliveryError,
  isRetryableStatus,
  PermanentError,
  parseRetryAfter,
  RetryableError,
} from './errors.ts';
export { httpStatusOf, type TransportFailure, transportFailure } from './transport-failure.ts';
export {
  type Connector,
  type ConnectorEnvironment,
  type ConnectorLimits,
  type ConnectorType,
  type DeliveryContext,
  type DeliveryResult,
  defineConnectorType,
  type PlannedRequest,
  type RecordLink,
} from './types.ts';
