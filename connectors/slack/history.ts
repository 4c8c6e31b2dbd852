import type { WebClient } from '@slack/web-api';
import { type DeliveryError, RetryableError } from '../errors.ts';
import type { Planned, Posted } from './alert.ts';
import { slackFailure } from './errors.ts';
import { METADATA_TYPE, type SlackScope } from './scope.ts';
import { conversationOf } from './threads.ts';

/** Pages of 200 messages a retry reads back through, per channel history or thread, when looking for its earlier alert. */
const HISTORY_PAGES = 10;

/** A message as conversations.history and conversations.replies list it. */
interface ListedMessage {
  ts?: string;
  thread_ts?: string;
  reply_count?: number;
  metadata?: { event_type?: string; event_payload?: unknown };
}

interface Listing {
  messages?: ListedMessage[];
  has_more?: boolean;
  response_metadata?: { next_cursor?: string };
}

/**
 * Check before redo: on a retry the earlier attempt may have posted and
 * then timed out, so look for a message carrying these event ids — in the
 * thread the alert would have replied in (`knownThreadOf`: conversations.replies),
 * in the channel's recent history (top-level messages and broadcast
 * replies), and in the thread of a retried alert of the same conversation
 * found there (an earlier attempt of the batch started it and replied in
 * it). Needs channels:history (and channels:read to find an id by name);
 * without them, or on another error that retrying will not cure, it finds
 * nothing and the alert is posted (at least once). A look-up that failed
 * for now (rate limit, outage, timeout) is not taken for "not posted": it
 * comes back as a retryable error, and the alerts not found by then wait
 * for the next attempt to look again. Reading stops as soon as every
 * retried alert is found, so a busy channel costs only the pages it takes.
 */
export async function findPostedEarlier(
  scope: SlackScope,
  planned: Planned[],
  knownThreadOf: (planned: Planned) => string | undefined,
): Promise<{ found: Map<string, Posted>; error?: DeliveryError }> {
  const found = new Map<string, Posted>();
  const retried = planned.filter((p) => p.context.attempt > 1);
  if (retried.length === 0) return { found };
  const first = retried[0]!;
  const allFound = () => retried.every((p) => found.has(p.context.eventId));
  try {
    const client = await scope.client();
    const channelId = await scope.workspace.channelId(client, first.channel);
    if (!channelId) return { found };
    const oldest = ((Math.min(...retried.map((p) => p.context.receivedAt)) - 60_000) / 1000).toFixed(6);
    const read = new Set<string>();
    const readThread = async (ts: string) => {
      read.add(ts);
      await readPages(client, 'conversations.replies', { channel: channelId, ts, oldest }, found, allFound, {
        gone: 'thread_not_found',
      });
    };
    for (const ts of new Set(retried.map(knownThreadOf)))
      if (ts !== undefined && !allFound()) await readThread(ts);
    if (!allFound())
      await readPages(client, 'conversations.history', { channel: channelId, oldest }, found, allFound);
    for (const p of retried) {
      const conversation = conversationOf(scope, p.context);
      if (found.has(p.context.eventId) || !conversation) continue;
      for (const q of retried) {
        const root = found.get(q.context.eventId);
        if (!root || root.threadTs || root.digest || !root.replies || read.has(root.ts)) continue;
        if (conversationOf(scope, q.context) === conversation && !allFound()) await readThread(root.ts);
      }
    }
  } catch (error) {
    const { error: failed } = slackFailure(error, first.channel, scope.name);
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
    if (!scope.warnedHistory) {
      scope.warnedHistory = true;
      scope.environment.log(
        'warn',
        'could not check Slack history before re-posting a retried alert; it may be posted twice',
        { connector: scope.name, error: (error as Error).message },
      );
    }
  }
  return { found };
}

/**
 * Reads a channel's history or a thread page by page — a busy channel can
 * hold more than one page since the oldest retried event arrived; read on,
 * within a bound, rather than miss the alert and post it twice — noting
 * every message of ours by the event ids it carries. `gone` is the answer
 * meaning "no such thread" (its first message was deleted: a reply sent to
 * it went to the channel, where the history finds it).
 */
async function readPages(
  client: WebClient,
  method: 'conversations.history' | 'conversations.replies',
  where: { channel: string; oldest: string; ts?: string },
  found: Map<string, Posted>,
  allFound: () => boolean,
  options: { gone?: string } = {},
): Promise<void> {
  let cursor: string | undefined;
  for (let page = 0; page < HISTORY_PAGES; page++) {
    let listing: Listing;
    try {
      listing = (await client.apiCall(method, {
        ...where,
        limit: 200,
        include_all_metadata: true,
        ...(cursor ? { cursor } : {}),
      })) as Listing;
    } catch (error) {
      if (options.gone && (error as { data?: { error?: unknown } }).data?.error === options.gone) return;
      throw error;
    }
    for (const message of listing.messages ?? []) {
      if (message.metadata?.event_type !== METADATA_TYPE || !message.ts) continue;
      const payload = message.metadata.event_payload as { event_ids?: unknown; digest?: unknown } | undefined;
      if (typeof payload?.event_ids !== 'string') continue;
      const posted: Posted = {
        channel: where.channel,
        ts: message.ts,
        ...(message.thread_ts && message.thread_ts !== message.ts ? { threadTs: message.thread_ts } : {}),
        ...(payload.digest === true ? { digest: true } : {}),
        ...(message.reply_count ? { replies: message.reply_count } : {}),
      };
      for (const id of payload.event_ids.split(',')) found.set(id, posted);
    }
    cursor = listing.response_metadata?.next_cursor;
    if (allFound() || !listing.has_more || !cursor) return;
  }
}
