import type { DeliveryError } from '../errors.ts';
import { PermanentError } from '../errors.ts';
import type { DeliveryContext, DeliveryResult, RecordLink } from '../types.ts';
import { overlongConversationUrl, recordLinks } from './blocks.ts';
import type { SlackScope } from './scope.ts';

/** One alert planned: where it goes and what it links to. */
export interface Planned {
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

export type Outcome = DeliveryResult | DeliveryError;

/** A message this connector posted (or found already posted). */
export interface Posted {
  channel: string;
  ts: string;
  /** For a reply: the ts of its thread's first message. */
  threadTs?: string;
  /** Found on a retry: a digest (several events in one message). */
  digest?: boolean;
  /** Found on a retry: how many replies its thread has. */
  replies?: number;
}

/** How an alert went into a thread: as a reply, or as the message that starts the conversation's thread. */
export type ThreadPlace =
  | { reply: { ts: string; broadcast: boolean } }
  | {
      starts: {
        conversation: string;
        /** The conversation's thread in this channel was gone (its first message deleted): this one replaces it. */
        replaced?: boolean;
      };
    };

/** Where an alert goes, or why it cannot go anywhere. */
export function planAlert(
  scope: SlackScope,
  context: DeliveryContext,
  index: number,
): Planned | DeliveryError {
  const { settings, name } = scope;
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
    lane: scope.workspace.laneOf(channel),
    crmLinks: recordLinks(context.related, settings.links_from),
    missing,
  };
}

/** An id (`C0123ABCD`, or a user id for a DM) stays as it is; `sales` and `#Sales` become `#sales`. */
export function normalizeChannel(rendered: string): string {
  const trimmed = rendered.trim();
  if (/^[CGDUW][A-Z0-9]{6,}$/.test(trimmed)) return trimmed;
  return `#${trimmed.replace(/^#/, '').toLowerCase()}`;
}

/**
 * What the delivery records: how it went out, its buttons, and a permalink
 * to the message; for the first alert of a conversation's thread, the
 * thread, as the identity (threads.ts makes it the conversation's whole record).
 */
export async function alertResult(
  scope: SlackScope,
  planned: Planned,
  posted: Posted,
  extra: {
    digest?: { ts: string; size: number; position: number };
    again?: boolean;
    thread?: ThreadPlace;
  } = {},
): Promise<DeliveryResult> {
  const links = await permalink(scope, posted);
  const reply = extra.thread && 'reply' in extra.thread ? extra.thread.reply : undefined;
  const starts = extra.thread && 'starts' in extra.thread ? extra.thread.starts : undefined;
  const where = reply ? `in the conversation's thread in ${planned.channel}` : `to ${planned.channel}`;
  const how = extra.again
    ? `already posted ${where} (found by its event id on retry)`
    : extra.digest
      ? `listed in a digest of ${extra.digest.size} in ${planned.channel}`
      : reply
        ? `replied ${where}${reply.broadcast ? ', also sent to the channel' : ''}`
        : starts?.replaced
          ? `posted to ${planned.channel} as a new thread (the conversation's thread there was deleted)`
          : `posted to ${planned.channel}`;
  const buttons = planned.crmLinks.map((link) => link.label);
  const withButtons = buttons.length > 0 ? ` with ${buttons.join(', ')}` : '';
  const without =
    planned.missing.length > 0
      ? ` without ${missingLinks(planned.missing, planned.context.relatedStatus, scope.settings.links_timeout)}`
      : '';
  const longLink = overlongConversationUrl(planned.context.event);
  const cut = longLink
    ? `; the conversation link (${longLink.length} characters) was too long for a button and is shown cut`
    : '';
  return {
    summary: `${how}${withButtons}${without}${cut}`,
    data: {
      channel: posted.channel,
      ts: posted.ts,
      ...(reply ? { thread_ts: reply.ts, ...(reply.broadcast ? { broadcast: true } : {}) } : {}),
      ...(extra.digest ? { digest: extra.digest } : {}),
      ...(planned.crmLinks.length > 0 ? { buttons } : {}),
      ...(links.length > 0 ? { links } : {}),
    },
    ...(starts
      ? { identity: { record: `thread:${posted.channel}:${posted.ts}`, identifiers: [starts.conversation] } }
      : {}),
  };
}

async function permalink(scope: SlackScope, { channel, ts, threadTs }: Posted): Promise<RecordLink[]> {
  const url = await scope.workspace.workspaceUrl(await scope.client());
  if (!url || !ts) return [];
  // A reply's link opens its thread, as the links Slack's "Copy link" makes.
  const thread = threadTs ? `?thread_ts=${threadTs}&cid=${channel}` : '';
  return [
    {
      label: 'Open in Slack',
      url: `${url.replace(/\/?$/, '/')}archives/${channel}/p${ts.replace('.', '')}${thread}`,
    },
  ];
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

/** The conversation's own page, for a digest line's links. */
export function conversationLink(event: Readonly<Record<string, unknown>>): RecordLink[] {
  const url = (event.conversation as { url?: unknown } | undefined)?.url;
  return typeof url === 'string' && /^https?:\/\//i.test(url) ? [{ label: 'conversation', url }] : [];
}
