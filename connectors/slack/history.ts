import { type DeliveryError, RetryableError } from '../errors.ts';
import type { Planned, Posted } from './alert.ts';
import { slackFailure } from './errors.ts';
import { METADATA_TYPE, type SlackScope } from './scope.ts';

/** Pages of 200 messages a retry reads back through when looking for its earlier alert. */
const HISTORY_PAGES = 10;

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
export async function findPostedEarlier(
  scope: SlackScope,
  planned: Planned[],
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
