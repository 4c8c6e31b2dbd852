import type { Logger, LogLevel, WebClient } from '@slack/web-api';
import { EVENT_TYPES, type EventType } from '../../src/event/canonical-event.ts';
import { limitsFrom } from '../common-settings.ts';
import type { DeliveryError } from '../errors.ts';
import {
  type ConnectorEnvironment,
  type DeliveryContext,
  defineConnectorType,
  type PlannedRequest,
} from '../types.ts';
import { type Outcome, type Planned, planAlert } from './alert.ts';
import {
  alertButtons,
  buildAlert,
  DEFAULT_DIGEST_TEMPLATE,
  DEFAULT_TEMPLATES,
  type MessageContent,
  type MessageTemplates,
} from './blocks.ts';
import { postChannelAlerts } from './post-alerts.ts';
import { METADATA_TYPE, type SlackScope } from './scope.ts';
import { type SlackSettings, slackSettings } from './settings.ts';
import { knownThread, recordThreads, StartedThreads } from './threads.ts';
import { holdWorkspace } from './workspace.ts';

export { normalizeChannel } from './alert.ts';

/** Events per `deliverBatch` call: the most alerts one digest lists. */
const BATCH_SIZE = 50;

/**
 * Slack alerts: a Block Kit message per event in a channel chosen by a
 * template, with buttons to the CRM records the `links_from` connectors
 * created (the engine holds the alert back for them up to `links_timeout`),
 * paced to one message per second per channel, one digest instead of a
 * trickle when a burst queues more than `digest_after` alerts for a channel,
 * and one thread per conversation and channel (`thread_per_conversation`).
 *
 * The parts: `alert.ts` plans an alert and words its result, `history.ts`
 * finds what an earlier attempt already posted, `post-alerts.ts` posts a
 * channel's alerts (paced, digested, threaded, in order), `threads.ts` keeps
 * each conversation's threads in the identity map, `workspace.ts` holds what
 * the connectors of one workspace share.
 */
export const slackConnector = defineConnectorType({
  type: 'slack',
  description: 'Post an alert (Block Kit, with buttons to the CRM record) to a Slack channel',
  settings: slackSettings,
  create(name, settings, environment) {
    if (settings.links_from.includes(name))
      throw new Error(`links_from names this connector itself ("${name}"); list the CRM connectors`);
    const held = holdWorkspace(settings.base_url, settings.token);
    // The SDK is loaded on the first call, not when the configuration is read.
    let sdk: Promise<WebClient> | undefined;
    const client = () =>
      (sdk ??= import('@slack/web-api').then(
        ({ WebClient, LogLevel }) =>
          new WebClient(settings.token, {
            slackApiUrl: settings.base_url,
            // One retry policy, the engine's: the SDK neither retries nor sleeps on a 429.
            retryConfig: { retries: 0 },
            rejectRateLimitedCalls: true,
            timeout: settings.timeout,
            logger: sdkLogger(environment, LogLevel.WARN),
          }),
      ));
    const templates = Object.fromEntries(
      EVENT_TYPES.map((type) => [type, templatesFor(settings, type)]),
    ) as Record<EventType, MessageTemplates>;
    const alertContent = (context: DeliveryContext): MessageContent =>
      buildAlert(
        templates[context.event.type as EventType] ?? templates['lead.qualified'],
        context.event,
        alertButtons(context.event, context.related, settings.links_from, settings.conversation_button),
      );
    const scope: SlackScope = {
      name,
      settings,
      client,
      workspace: held.workspace,
      environment,
      alertContent,
      digestLine: settings.digest_line ?? DEFAULT_DIGEST_TEMPLATE,
      warnedHistory: false,
      warnedThreads: false,
    };

    const deliverBatch = async (contexts: DeliveryContext[]): Promise<Outcome[]> => {
      const outcomes: Outcome[] = new Array(contexts.length);
      const channels = new Map<string, Planned[]>();
      for (const [index, context] of contexts.entries()) {
        const planned = planAlert(scope, context, index);
        if (!('context' in planned)) {
          outcomes[index] = planned;
          continue;
        }
        const group = channels.get(planned.lane);
        if (group) group.push(planned);
        else channels.set(planned.lane, [planned]);
      }
      const stop: { token?: DeliveryError } = {};
      const started = new StartedThreads();
      // Channels do not wait for each other; within one, alerts keep their order.
      await Promise.all(
        [...channels.values()].map((group) => postChannelAlerts(scope, group, outcomes, stop, started)),
      );
      recordThreads(contexts, outcomes);
      return outcomes;
    };

    return {
      name,
      type: 'slack',
      limits: limitsFrom(settings, BATCH_SIZE),
      // The identity map holds each conversation's threads (threads.ts).
      remembers: settings.thread_per_conversation,
      ...(settings.links_from.length > 0
        ? { waitsFor: { connectors: settings.links_from, timeoutMs: settings.links_timeout } }
        : {}),
      preview(context): PlannedRequest[] {
        const planned = planAlert(scope, context, 0);
        const content = alertContent(context);
        const thread =
          'context' in planned
            ? knownThread(scope, context, scope.workspace.idOf(planned.channel))
            : undefined;
        const broadcast = (settings.broadcast as readonly unknown[]).includes(context.event.type);
        const notes = [
          settings.links_from.length > 0
            ? `waits up to ${Math.round(settings.links_timeout / 1000)} s for ${settings.links_from.join(', ')} and adds buttons to the records they return`
            : undefined,
          settings.digest_after !== 'off'
            ? `when more than ${settings.digest_after} alerts for one channel are due at once, one digest message lists them instead`
            : undefined,
          settings.thread_per_conversation
            ? thread
              ? `a reply in the conversation's thread${broadcast ? ', also sent to the channel' : ''}`
              : `the conversation's later alerts to this channel reply in this alert's thread${settings.broadcast.length > 0 ? ` (${settings.broadcast.join(', ')} also sent to the channel)` : ''}`
            : undefined,
          'a retry first looks in conversations.history (and the thread) for this alert, so that it is not posted twice',
        ].filter(Boolean);
        return [
          {
            method: 'POST',
            url: `${settings.base_url}chat.postMessage`,
            headers: {
              authorization: `Bearer ${settings.token.slice(0, 5)}…`,
              'content-type': 'application/x-www-form-urlencoded',
            },
            body: {
              channel: 'context' in planned ? planned.channel : `(${planned.message})`,
              text: content.text,
              blocks: content.blocks,
              metadata: { event_type: METADATA_TYPE, event_payload: { event_ids: context.eventId } },
              ...(thread ? { thread_ts: thread, ...(broadcast ? { reply_broadcast: true } : {}) } : {}),
              unfurl_links: false,
              unfurl_media: false,
            },
            note: notes.join('; '),
          },
        ];
      },
      async deliver(context) {
        const [outcome] = await deliverBatch([context]);
        if (outcome === undefined || outcome instanceof Error) throw outcome;
        return outcome;
      },
      deliverBatch,
      async close() {
        held.release();
      },
    };
  },
});

function templatesFor(settings: SlackSettings, type: EventType): MessageTemplates {
  const defaults = DEFAULT_TEMPLATES[type];
  const custom = settings.messages[type] ?? {};
  return {
    header: custom.header ?? defaults.header,
    fields: custom.fields ?? defaults.fields,
    body: custom.body ?? defaults.body,
    context: custom.context ?? defaults.context,
    text: custom.text ?? defaults.text,
    blocks: custom.blocks,
  };
}

/** The SDK's own log lines, at debug: the engine already logs every failure once. */
function sdkLogger(environment: ConnectorEnvironment, level: LogLevel): Logger {
  const log =
    (level: 'debug' | 'warn') =>
    (...parts: unknown[]) =>
      environment.log(level, `slack web-api: ${parts.map(String).join(' ')}`);
  return {
    debug: () => {},
    info: () => {},
    warn: log('debug'),
    error: log('warn'),
    setLevel: () => {},
    getLevel: () => level,
    setName: () => {},
  };
}
