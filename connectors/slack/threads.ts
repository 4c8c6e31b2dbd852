import { type DeliveryError, RetryableError } from '../errors.ts';
import type { DeliveryContext, DeliveryResult } from '../types.ts';
import type { Outcome, Planned } from './alert.ts';
import { slackFailure } from './errors.ts';
import type { SlackScope } from './scope.ts';

/*
 * One thread per conversation and channel. The first alert of a conversation
 * in a channel is an ordinary message; its delivery records it in the
 * identity map (docs/identity.md) under the conversation's identifier, as
 * `thread:CHANNEL_ID:TS`. Every later alert of that conversation to that
 * channel is a reply in that thread (`thread_ts`), also sent to the channel
 * (`reply_broadcast`) for the event types in `broadcast`.
 *
 * The identity map holds one record per connector and identifier, so the
 * record lists the conversation's thread in each channel it was alerted in:
 * `thread:C0SALES01:1700000000.000100 thread:C0SUPPORT1:1700000042.000200`.
 * An alert to a channel the record has no thread for starts one there, and
 * its delivery records the list with it added; the other channels' threads
 * stay. A reply records nothing, so it can never move the thread.
 */

/** The most channels one conversation keeps a thread in; the one alerted longest ago is forgotten first. */
const MAX_CHANNELS = 20;

/** One `thread:CHANNEL:TS` reference; a record is several, separated by spaces. */
const THREAD = /^thread:([A-Z0-9]+):(\d+\.\d+)$/;

/**
 * Slack answers that say the thread to reply in is gone. Slack is known to
 * post a reply to a deleted parent at the top level instead (see
 * `postedThread`), but an answer like these is taken the same way: the alert
 * is posted once more as the start of a new thread.
 */
export const THREAD_GONE_ERRORS = new Set([
  'thread_not_found',
  'message_not_found',
  'cannot_reply_to_message',
]);

/**
 * The identifier an alert's thread is kept under — the conversation's
 * (`conversation:SOURCE:ID`) — when `thread_per_conversation` is on and the
 * event names its conversation; else undefined (the alert is a message of its own).
 */
export function conversationOf(scope: SlackScope, context: DeliveryContext): string | undefined {
  if (!scope.settings.thread_per_conversation) return undefined;
  return context.identifiers?.find((identifier) => identifier.startsWith('conversation:'));
}

/**
 * A record's threads, channel id → thread ts; parts that are not a thread
 * reference are skipped, so a record this connector cannot read starts a new thread.
 *
 * @example
 * parseThreads('thread:C0SALES01:1700000000.000100') // Map { 'C0SALES01' => '1700000000.000100' }
 */
export function parseThreads(record: string | undefined): Map<string, string> {
  const threads = new Map<string, string>();
  for (const part of (record ?? '').split(' ')) {
    const match = THREAD.exec(part);
    if (match) threads.set(match[1]!, match[2]!);
  }
  return threads;
}

/** The record for these threads, oldest channel first, at most {@link MAX_CHANNELS}. */
export function formatThreads(threads: ReadonlyMap<string, string>): string {
  return [...threads]
    .slice(-MAX_CHANNELS)
    .map(([channel, ts]) => `thread:${channel}:${ts}`)
    .join(' ');
}

/** The thread an earlier delivery started for this alert's conversation in the channel `channelId`. */
export function knownThread(
  scope: SlackScope,
  context: DeliveryContext,
  channelId: string | undefined,
): string | undefined {
  const conversation = conversationOf(scope, context);
  if (!conversation || !channelId) return undefined;
  return parseThreads(context.known?.[conversation]).get(channelId);
}

/**
 * Threads started within one `deliverBatch` call, by channel id and
 * conversation: a later alert of the same conversation in the batch replies
 * in them (its delivery could not know them yet — nothing is recorded until
 * the batch is done).
 */
export class StartedThreads {
  private readonly threads = new Map<string, string>();

  get(channelId: string | undefined, conversation: string | undefined): string | undefined {
    return channelId && conversation ? this.threads.get(`${channelId} ${conversation}`) : undefined;
  }

  set(channelId: string, conversation: string, ts: string): void {
    this.threads.set(`${channelId} ${conversation}`, ts);
  }
}

/**
 * The channel's id, to find the group's known threads in: the id itself, one
 * learnt from an earlier answer, or (only when an alert of the group has a
 * known thread) looked up by name with conversations.list. A look-up that
 * failed for now holds the group back rather than start a second thread; one
 * that cannot succeed (no `channels:read` scope) is said once in the log, and
 * the alerts start new threads.
 */
export async function threadChannel(
  scope: SlackScope,
  group: readonly Planned[],
): Promise<{ id?: string; error?: DeliveryError }> {
  const channel = group[0]!.channel;
  const id = scope.workspace.idOf(channel);
  if (id) return { id };
  const needed = group.some((planned) => {
    const conversation = conversationOf(scope, planned.context);
    return conversation !== undefined && parseThreads(planned.context.known?.[conversation]).size > 0;
  });
  if (!needed) return {};
  try {
    const found = await scope.workspace.channelId(await scope.client(), channel);
    return found ? { id: found } : {};
  } catch (error) {
    const { error: failed } = slackFailure(error, channel, scope.name);
    if (failed.retryable)
      return {
        error: new RetryableError(
          `could not look up the id of ${channel} to reply in the conversation's thread there, so not posting yet: ${failed.message}`,
          {
            ...(failed.retryAfterMs === undefined ? {} : { retryAfterMs: failed.retryAfterMs }),
            cause: error,
          },
        ),
      };
    if (!scope.warnedThreads) {
      scope.warnedThreads = true;
      scope.environment.log(
        'warn',
        `could not look up the id of Slack channel ${channel}; alerts there start new threads until a post tells it (give the channel as an id, or add the channels:read scope)`,
        { connector: scope.name, error: (error as Error).message },
      );
    }
    return {};
  }
}

/**
 * The identity a delivery that started a thread records: the conversation's
 * threads in every channel, as known before the batch and as started in it
 * (the newest per channel), on every such delivery of the batch alike — so
 * whichever the worker records last, no channel's thread is lost.
 */
export function recordThreads(contexts: readonly DeliveryContext[], outcomes: Outcome[]): void {
  const byConversation = new Map<string, { indices: number[]; threads: Map<string, string> }>();
  for (const [index, outcome] of outcomes.entries()) {
    const identity = (outcome as DeliveryResult | undefined)?.identity;
    const conversation = identity?.identifiers?.[0];
    const started = parseThreads(identity?.record);
    if (outcome instanceof Error || !conversation || started.size !== 1) continue;
    let entry = byConversation.get(conversation);
    if (!entry) {
      entry = { indices: [], threads: parseThreads(contexts[index]!.known?.[conversation]) };
      byConversation.set(conversation, entry);
    }
    for (const [channel, ts] of started) {
      entry.threads.delete(channel);
      entry.threads.set(channel, ts);
    }
    entry.indices.push(index);
  }
  for (const [conversation, { indices, threads }] of byConversation) {
    const record = formatThreads(threads);
    for (const index of indices)
      (outcomes[index] as DeliveryResult).identity = { record, identifiers: [conversation] };
  }
}
