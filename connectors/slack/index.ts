import { createHash } from 'node:crypto';
import { type Logger, LogLevel, WebClient } from '@slack/web-api';
import { EVENT_TYPES, type EventType } from '../../src/event/canonical-event.ts';
import { limitsFrom } from '../common-settings.ts';
import { type DeliveryError, PermanentError, RetryableError } from '../errors.ts';
import {
  type ConnectorEnvironment,
  type DeliveryContext,
  type DeliveryResult,
  defineConnectorType,
  type PlannedRequest,
  type RecordLink,
} from '../types.ts';
import {
  alertButtons,
  buildAlert,
  buildDigest,
  DEFAULT_DIGEST_TEMPLATE,
  DEFAULT_TEMPLATES,
  type MessageContent,
  type MessageTemplates,
  recordLinks,
} from './blocks.ts';
import { type SlackFailure, slackFailure } from './errors.ts';
import { ChannelBusy, ChannelPacer } from './pacer.ts';
import { type SlackSettings, slackSettings } from './settings.ts';

/** Events per `deliverBatch` call: the most alerts one digest lists. */
const BATCH_SIZE = 50;
/** Longest a delivery waits inside the connector for a channel paused by a 429 before handing the wait to the engine. */
const MAX_CHANNEL_WAIT_MS = 3000;
/** Pages of 200 messages a retry reads back through when looking for its earlier alert. */
const HISTORY_PAGES = 10;

/** `metadata.event_type` of our messages; `event_payload.event_ids` names the leadrelay events a message covers. */
const METADATA_TYPE = 'leadrelay_alert';

/**
 * What connectors to one Slack workspace share, also across reloads (a
 * reload builds new connectors while the old ones finish): the per-channel
 * pacing, channel ids learnt from answers, and the workspace URL for
 * permalinks.
 */
interface Workspace {
  pacer: ChannelPacer;
  /** `#name` → channel id. */
  channelIds: Map<string, string>;
  /** The workspace URL from auth.test (`https://acme.slack.com/`), asked once. */
  url: Promise<string | undefined> | undefined;
}

const workspaces = new Map<string, Workspace>();

function workspaceFor(baseUrl: string, token: string): Workspace {
  const key = createHash('sha256').update(`${baseUrl}\n${token}`).digest('hex');
  let workspace = workspaces.get(key);
  if (!workspace) {
    workspace = { pacer: new ChannelPacer(), channelIds: new Map(), url: undefined };
    workspaces.set(key, workspace);
  }
  return workspace;
}

/** One alert planned: where it goes and what it links to. */
interface Planned {
  index: number;
  context: DeliveryContext;
  /** `#sales` or `C0123…`, as sent to Slack. */
  channel: string;
  /** The pacing lane: the channel id when known, else the name. */
  lane: string;
  /** Record links from the `links_from` connectors. */
  crmLinks: RecordLink[];
  /** `links_from` connectors this event was routed to that had not delivered in time. */
  missing: string[];
}

type Outcome = DeliveryResult | DeliveryError;

/**
 * Slack alerts: a Block Kit message per event in a channel chosen by a
 * template, with buttons to the CRM records the `links_from` connectors
 * created (waiting for them up to `links_timeout`), paced to one message per
 * second per channel, and one digest instead of a trickle when a burst
 * queues more than `digest_after` alerts for a channel.
 */
export const slackConnector = defineConnectorType({
  type: 'slack',
  description: 'Post an alert (Block Kit, with buttons to the CRM record) to a Slack channel',
  settings: slackSettings,
  create(name, settings, environment) {
    if (settings.links_from.includes(name))
      throw new Error(`links_from names this connector itself ("${name}"); list the CRM connectors`);
    const workspace = workspaceFor(settings.base_url, settings.token);
    const client = new WebClient(settings.token, {
      slackApiUrl: settings.base_url,
      // One retry policy, the engine's: the SDK neither retries nor sleeps on a 429.
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: settings.timeout,
      logger: sdkLogger(environment),
    });
    const templates = Object.fromEntries(
      EVENT_TYPES.map((type) => [type, templatesFor(settings, type)]),
    ) as Record<EventType, MessageTemplates>;
    const digestLine = settings.digest_line ?? DEFAULT_DIGEST_TEMPLATE;
    const timing = { intervalMs: settings.channel_interval, maxWaitMs: MAX_CHANNEL_WAIT_MS };
    let warnedHistory = false;

    const templatesOf = (event: Readonly<Record<string, unknown>>) =>
      templates[event.type as EventType] ?? templates['lead.qualified'];

    const alertContent = (context: DeliveryContext): MessageContent =>
      buildAlert(
        templatesOf(context.event),
        context.event,
        alertButtons(context.event, context.related, settings.links_from, settings.conversation_button),
      );

    /** Where an alert goes, or why it cannot go anywhere. */
    const plan = (context: DeliveryContext, index: number): Planned | DeliveryError => {
      let rendered: string | undefined;
      try {
        rendered = settings.channel.render(context.event);
      } catch (error) {
        return new PermanentError(
          `the channel template failed for this event: ${(error as Error).message} — check \`channel\` in connectors/${name}.yaml`,
        );
      }
      if (!rendered)
        return new PermanentError(
          `the channel template rendered empty for this event — check \`channel\` in connectors/${name}.yaml`,
        );
      const channel = normalizeChannel(rendered);
      const missing = settings.links_from.filter(
        (other) => other in context.related && context.related[other] === undefined,
      );
      return {
        index,
        context,
        channel,
        lane: workspace.channelIds.get(channel) ?? channel,
        crmLinks: recordLinks(context.related, settings.links_from),
        missing,
      };
    };

    const post = async (
      planned: Planned,
      content: MessageContent,
      eventIds: string[],
    ): Promise<{ channel: string; ts: string }> => {
      workspace.url ??= client.auth
        .test()
        .then((answer) => (typeof answer.url === 'string' ? answer.url : undefined))
        .catch(() => {
          workspace.url = undefined;
          return undefined;
        });
      const answer = (await workspace.pacer.run(planned.lane, timing, () =>
        client.apiCall('chat.postMessage', {
          channel: planned.channel,
          text: content.text,
          blocks: content.blocks,
          metadata: { event_type: METADATA_TYPE, event_payload: { event_ids: eventIds.join(',') } },
          unfurl_links: false,
          unfurl_media: false,
        }),
      )) as { channel?: string; ts?: string };
      const channelId = answer.channel ?? planned.channel;
      if (planned.channel.startsWith('#') && channelId !== planned.channel) {
        // From now on alerts to either spelling share one pacing lane.
        workspace.channelIds.set(planned.channel, channelId);
        workspace.pacer.alias(planned.channel, channelId);
      }
      return { channel: channelId, ts: answer.ts ?? '' };
    };

    const failure = (error: unknown, planned: Planned): SlackFailure => {
      if (error instanceof ChannelBusy)
        return {
          scope: 'message',
          error: new RetryableError(`Slack asked to slow down for ${planned.channel}`, {
            retryAfterMs: Math.ceil(error.waitMs),
            statusCode: 429,
          }),
        };
      const found = slackFailure(error, planned.channel, name);
      if (found.error.retryAfterMs !== undefined)
        workspace.pacer.pause(planned.lane, found.error.retryAfterMs);
      return found;
    };

    const permalink = async (channel: string, ts: string): Promise<RecordLink[]> => {
      const url = await workspace.url;
      if (!url || !ts) return [];
      return [
        {
          label: 'Open in Slack',
          url: `${url.replace(/\/?$/, '/')}archives/${channel}/p${ts.replace('.', '')}`,
        },
      ];
    };

    const result = async (
      planned: Planned,
      posted: { channel: string; ts: string },
      extra: { digest?: { ts: string; size: number; position: number }; again?: boolean } = {},
    ): Promise<DeliveryResult> => {
      const links = await permalink(posted.channel, posted.ts);
      const how = extra.again
        ? `already posted to ${planned.channel} (found by its event id on retry)`
        : extra.digest
          ? `listed in a digest of ${extra.digest.size} in ${planned.channel}`
          : `posted to ${planned.channel}`;
      const buttons = planned.crmLinks.map((link) => link.label);
      const withButtons = buttons.length > 0 ? ` with ${buttons.join(', ')}` : '';
      const without =
        planned.missing.length > 0
          ? ` without ${missingLinks(planned.missing, planned.context.relatedStatus, settings.links_timeout)}`
          : '';
      return {
        summary: `${how}${withButtons}${without}`,
        data: {
          channel: posted.channel,
          ts: posted.ts,
          ...(extra.digest ? { digest: extra.digest } : {}),
          ...(planned.crmLinks.length > 0 ? { buttons } : {}),
          ...(links.length > 0 ? { links } : {}),
        },
      };
    };

    /**
     * Check before redo: on a retry the earlier attempt may have posted and
     * then timed out, so look in the channel's recent history for a message
     * carrying these event ids. Needs channels:history (and channels:read to
     * find an id by name); without them, or on another error that retrying
     * will not cure, it finds nothing and the alert is posted (at least
     * once). A look-up that failed for now (rate limit, outage, timeout) is
     * not taken for "not posted": it comes back as a retryable error, and the
     * alerts not found by then wait for the next attempt to look again. Paging
     * stops as soon as every retried alert is found, so a busy channel costs
     * only the pages it takes.
     */
    const alreadyPosted = async (
      planned: Planned[],
    ): Promise<{ found: Map<string, { channel: string; ts: string }>; error?: DeliveryError }> => {
      const found = new Map<string, { channel: string; ts: string }>();
      const retried = planned.filter((p) => p.context.attempt > 1);
      if (retried.length === 0) return { found };
      const first = retried[0]!;
      const allFound = () => retried.every((p) => found.has(p.context.eventId));
      try {
        const channelId = await resolveChannelId(client, workspace, first.channel);
        if (!channelId) return { found };
        const oldest = Math.min(...retried.map((p) => p.context.receivedAt)) - 60_000;
        // A busy channel can hold more than one page since the oldest retried event
        // arrived; read on, within a bound, rather than miss the alert and post it twice.
        let cursor: string | undefined;
        for (let page = 0; page < HISTORY_PAGES; page++) {
          const history = (await client.apiCall('conversations.history', {
            channel: channelId,
            oldest: (oldest / 1000).toFixed(6),
            limit: 200,
            include_all_metadata: true,
            ...(cursor ? { cursor } : {}),
          })) as {
            messages?: { ts?: string; metadata?: { event_type?: string; event_payload?: unknown } }[];
            has_more?: boolean;
            response_metadata?: { next_cursor?: string };
          };
          for (const message of history.messages ?? []) {
            if (message.metadata?.event_type !== METADATA_TYPE || !message.ts) continue;
            const ids = (message.metadata.event_payload as { event_ids?: unknown } | undefined)?.event_ids;
            if (typeof ids !== 'string') continue;
            for (const id of ids.split(',')) found.set(id, { channel: channelId, ts: message.ts });
          }
          cursor = history.response_metadata?.next_cursor;
          if (allFound() || !history.has_more || !cursor) break;
        }
      } catch (error) {
        const { error: failed } = slackFailure(error, first.channel, name);
        if (failed.retryable)
          return {
            found,
            error: new RetryableError(
              `could not check ${first.channel} for an alert an earlier attempt may have posted, so not posting it again yet: ${failed.message}`,
              {
                ...(failed.retryAfterMs === undefined ? {} : { retryAfterMs: failed.retryAfterMs }),
                ...(failed.statusCode === undefined ? {} : { statusCode: failed.statusCode }),
                cause: error,
              },
            ),
          };
        if (!warnedHistory) {
          warnedHistory = true;
          environment.log(
            'warn',
            'could not check Slack history before re-posting a retried alert; it may be posted twice',
            { connector: name, error: (error as Error).message },
          );
        }
      }
      return { found };
    };

    /** The alerts of one channel, in event order: a digest when there are many, else one message each. */
    const deliverChannel = async (group: Planned[], outcomes: Outcome[], stop: { token?: DeliveryError }) => {
      const { found, error: unchecked } = await alreadyPosted(group);
      if (unchecked) {
        // What the pages read before the failure found is delivered; the other retried alerts wait
        // to be checked again, and the channel's new ones wait behind them, in order.
        for (const planned of group) {
          const posted = found.get(planned.context.eventId);
          outcomes[planned.index] = posted
            ? await result(planned, posted, { again: true })
            : planned.context.attempt > 1
              ? unchecked
              : heldBack(unchecked, planned.channel);
        }
        return;
      }
      const pending: Planned[] = [];
      for (const planned of group) {
        const posted = found.get(planned.context.eventId);
        if (posted) outcomes[planned.index] = await result(planned, posted, { again: true });
        else pending.push(planned);
      }
      let blocked: DeliveryError | undefined;
      const digestAfter = settings.digest_after;
      if (digestAfter !== 'off' && pending.length > digestAfter) {
        const messages = buildDigest(
          digestLine,
          pending.map((planned) => ({
            event: planned.context.event,
            links: [...planned.crmLinks, ...conversationLink(planned.context.event)],
          })),
          digestAfter,
        );
        let offset = 0;
        for (const message of messages) {
          const part = pending.slice(offset, offset + message.count);
          offset += message.count;
          const head = part[0]!;
          const error = stop.token ?? blocked;
          if (error) {
            for (const planned of part) outcomes[planned.index] = heldBack(error, planned.channel);
            continue;
          }
          try {
            const posted = await post(
              head,
              message,
              part.map((planned) => planned.context.eventId),
            );
            for (const planned of part)
              outcomes[planned.index] = await result(planned, posted, {
                digest: { ts: posted.ts, size: pending.length, position: pending.indexOf(planned) + 1 },
              });
          } catch (thrown) {
            const { error: failed, scope } = failure(thrown, head);
            for (const planned of part) outcomes[planned.index] = failed;
            if (scope === 'token') stop.token = failed;
            if (scope !== 'message' || failed.retryable) blocked = failed;
          }
        }
        return;
      }
      for (const planned of pending) {
        const error = stop.token ?? blocked;
        if (error) {
          outcomes[planned.index] = heldBack(error, planned.channel);
          continue;
        }
        let content: MessageContent;
        try {
          content = alertContent(planned.context);
        } catch (thrown) {
          outcomes[planned.index] = new PermanentError(
            `could not build the Slack message: ${(thrown as Error).message} — check \`messages\` in connectors/${name}.yaml`,
          );
          continue;
        }
        try {
          const posted = await post(planned, content, [planned.context.eventId]);
          outcomes[planned.index] = await result(planned, posted);
        } catch (thrown) {
          const { error: failed, scope } = failure(thrown, planned);
          outcomes[planned.index] = failed;
          if (scope === 'token') stop.token = failed;
          // A channel error, a rate limit or an outage holds the channel's later alerts back too,
          // so they are not sent out of order; they go to the engine to retry.
          if (scope !== 'message' || failed.retryable) blocked = failed;
        }
      }
    };

    const deliverBatch = async (contexts: DeliveryContext[]): Promise<Outcome[]> => {
      const outcomes: Outcome[] = new Array(contexts.length);
      const groups = new Map<string, Planned[]>();
      for (const [index, context] of contexts.entries()) {
        const planned = plan(context, index);
        if (!('context' in planned)) {
          outcomes[index] = planned;
          continue;
        }
        const group = groups.get(planned.lane);
        if (group) group.push(planned);
        else groups.set(planned.lane, [planned]);
      }
      const stop: { token?: DeliveryError } = {};
      // Channels do not wait for each other; within one, alerts keep their order.
      await Promise.all([...groups.values()].map((group) => deliverChannel(group, outcomes, stop)));
      return outcomes;
    };

    return {
      name,
      type: 'slack',
      limits: limitsFrom(settings, BATCH_SIZE),
      ...(settings.links_from.length > 0
        ? { waitsFor: { connectors: settings.links_from, timeoutMs: settings.links_timeout } }
        : {}),
      preview(context): PlannedRequest[] {
        const planned = plan(context, 0);
        const content = alertContent(context);
        const notes = [
          settings.links_from.length > 0
            ? `waits up to ${Math.round(settings.links_timeout / 1000)} s for ${settings.links_from.join(', ')} and adds buttons to the records they return`
            : undefined,
          settings.digest_after !== 'off'
            ? `when more than ${settings.digest_after} alerts for one channel are due at once, one digest message lists them instead`
            : undefined,
          'a retry first looks in conversations.history for this alert, so that it is not posted twice',
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
    };
  },
});

/**
 * The outcome of an alert not sent because an earlier one to its channel
 * failed: the same error when it is about the channel or token (it would
 * fail alike), else a retryable "held back" that keeps the channel in order.
 */
function heldBack(error: DeliveryError, channel: string): DeliveryError {
  if (!error.retryable) return error;
  return new RetryableError(`not sent: an earlier alert to ${channel} failed (${error.message})`, {
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    notSent: true,
  });
}

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

/** An id (`C0123ABCD`, or a user id for a DM) stays as it is; `sales` and `#Sales` become `#sales`. */
export function normalizeChannel(rendered: string): string {
  const trimmed = rendered.trim();
  if (/^[CGDUW][A-Z0-9]{6,}$/.test(trimmed)) return trimmed;
  return `#${trimmed.replace(/^#/, '').toLowerCase()}`;
}

function conversationLink(event: Readonly<Record<string, unknown>>): RecordLink[] {
  const url = (event.conversation as { url?: unknown } | undefined)?.url;
  return typeof url === 'string' && /^https?:\/\//i.test(url) ? [{ label: 'conversation', url }] : [];
}

/** The id of `#name`: from an earlier answer, or by listing the channels the bot can see. */
async function resolveChannelId(
  client: WebClient,
  workspace: Workspace,
  channel: string,
): Promise<string | undefined> {
  if (!channel.startsWith('#')) return channel;
  const known = workspace.channelIds.get(channel);
  if (known) return known;
  const name = channel.slice(1);
  let cursor: string | undefined;
  for (let page = 0; page < 20; page++) {
    const answer = (await client.apiCall('conversations.list', {
      types: 'public_channel,private_channel',
      exclude_archived: true,
      limit: 1000,
      ...(cursor ? { cursor } : {}),
    })) as { channels?: { id?: string; name?: string }[]; response_metadata?: { next_cursor?: string } };
    const match = answer.channels?.find((c) => c.name === name);
    if (match?.id) {
      workspace.channelIds.set(channel, match.id);
      return match.id;
    }
    cursor = answer.response_metadata?.next_cursor;
    if (!cursor) return undefined;
  }
  return undefined;
}

/** The SDK's own log lines, at debug: the engine already logs every failure once. */
function sdkLogger(environment: ConnectorEnvironment): Logger {
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
    getLevel: () => LogLevel.WARN,
    setName: () => {},
  };
}

/** "salesforce link (its delivery is dead)" or "hubspot link (not delivered within 30 s)". */
function missingLinks(
  missing: string[],
  status: Readonly<Record<string, string>> | undefined,
  timeoutMs: number,
): string {
  return missing
    .map((name) =>
      status?.[name] === 'dead'
        ? `${name} link (its delivery is dead)`
        : `${name} link (not delivered within ${Math.round(timeoutMs / 1000)} s)`,
    )
    .join(', ');
}
