import { type DeliveryError, PermanentError, RetryableError } from '../errors.ts';
import type { DeliveryContext } from '../types.ts';
import {
  alertResult,
  conversationLink,
  type Outcome,
  type Planned,
  type Posted,
  type ThreadPlace,
} from './alert.ts';
import { buildDigest, type MessageContent } from './blocks.ts';
import { type SlackFailure, slackFailure } from './errors.ts';
import { findPostedEarlier } from './history.ts';
import { ChannelBusy } from './pacer.ts';
import { METADATA_TYPE, type SlackScope } from './scope.ts';
import {
  conversationOf,
  knownThread,
  type StartedThreads,
  THREAD_GONE_ERRORS,
  threadChannel,
} from './threads.ts';

/** Longest a delivery waits inside the connector for a channel paused by a 429 before handing the wait to the engine. */
const MAX_CHANNEL_WAIT_MS = 3000;

/** What the alerts of one channel share while they are posted: the batch's new threads, and the failure that holds the rest back. */
interface ChannelRun {
  scope: SlackScope;
  outcomes: Outcome[];
  stop: { token?: DeliveryError };
  started: StartedThreads;
  /** The channel's id, when known before posting (threads.ts `threadChannel`). */
  channelId: string | undefined;
  blocked?: DeliveryError;
}

/**
 * The alerts of one channel, in event order: those an earlier attempt
 * already posted are found, not re-posted; an alert whose conversation has a
 * thread in this channel (known, or started earlier in the batch) replies in
 * it; the rest go as one digest when there are more than `digest_after`
 * (replies are never folded into a digest), else one message each, paced
 * per channel. A failure that is about the channel, the token, or "slow
 * down" holds the channel's later alerts back so they never go out of order.
 * `stop.token` carries a token failure to the other channels of the batch.
 */
export async function postChannelAlerts(
  scope: SlackScope,
  group: Planned[],
  outcomes: Outcome[],
  stop: { token?: DeliveryError },
  started: StartedThreads,
): Promise<void> {
  const channel = await threadChannel(scope, group);
  const run: ChannelRun = { scope, outcomes, stop, started, channelId: channel.id };
  const { found, error: unchecked } = channel.error
    ? { found: new Map<string, Posted>(), error: channel.error }
    : await findPostedEarlier(scope, group, (planned) => knownThread(scope, planned.context, channel.id));
  if (unchecked) {
    // What the pages read before the failure found is delivered; the other retried alerts wait
    // to be checked again, and the channel's new ones wait behind them, in order.
    for (const planned of group) {
      const posted = found.get(planned.context.eventId);
      outcomes[planned.index] = posted
        ? await foundResult(run, planned, posted)
        : planned.context.attempt > 1
          ? unchecked
          : heldBack(unchecked, planned.channel);
    }
    return;
  }
  const pending: Planned[] = [];
  for (const planned of group) {
    const posted = found.get(planned.context.eventId);
    if (posted) outcomes[planned.index] = await foundResult(run, planned, posted);
    else pending.push(planned);
  }
  const digestAfter = scope.settings.digest_after;
  const replies = pending.filter((planned) => threadOf(run, planned) !== undefined);
  const fresh = pending.filter((planned) => !replies.includes(planned));
  if (digestAfter !== 'off' && fresh.length > digestAfter) {
    await postOneByOne(run, replies);
    await postDigest(run, fresh, digestAfter);
  } else await postOneByOne(run, pending);
}

/** An alert an earlier attempt posted: a reply stays one; a message of its own started its conversation's thread. */
async function foundResult(run: ChannelRun, planned: Planned, posted: Posted): Promise<Outcome> {
  const conversation = conversationOf(run.scope, planned.context);
  let thread: ThreadPlace | undefined;
  if (posted.threadTs) thread = { reply: { ts: posted.threadTs, broadcast: false } };
  else if (conversation && !posted.digest) {
    thread = { starts: { conversation } };
    run.started.set(posted.channel, conversation, posted.ts);
  }
  return alertResult(run.scope, planned, posted, { again: true, ...(thread ? { thread } : {}) });
}

/** The thread this alert replies in: one started earlier in the batch, else the one its delivery knows. */
function threadOf(run: ChannelRun, planned: Planned): string | undefined {
  const channelId = run.channelId ?? run.scope.workspace.idOf(planned.channel);
  return (
    run.started.get(channelId, conversationOf(run.scope, planned.context)) ??
    knownThread(run.scope, planned.context, channelId)
  );
}

async function postDigest(run: ChannelRun, pending: Planned[], digestAfter: number): Promise<void> {
  const { scope, outcomes, stop } = run;
  const messages = buildDigest(
    scope.digestLine,
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
    const error = stop.token ?? run.blocked;
    if (error) {
      for (const planned of part) outcomes[planned.index] = heldBack(error, planned.channel);
      continue;
    }
    try {
      const posted = await post(
        scope,
        head,
        message,
        part.map((planned) => planned.context.eventId),
        { digest: true },
      );
      for (const planned of part)
        outcomes[planned.index] = await alertResult(scope, planned, posted, {
          digest: { ts: posted.ts, size: pending.length, position: pending.indexOf(planned) + 1 },
        });
    } catch (thrown) {
      const failed = failedPost(run, thrown, head);
      for (const planned of part) outcomes[planned.index] = failed;
    }
  }
}

async function postOneByOne(run: ChannelRun, pending: Planned[]): Promise<void> {
  const { scope, outcomes, stop } = run;
  for (const planned of pending) {
    const error = stop.token ?? run.blocked;
    if (error) {
      outcomes[planned.index] = heldBack(error, planned.channel);
      continue;
    }
    let content: MessageContent;
    try {
      content = scope.alertContent(planned.context);
    } catch (thrown) {
      outcomes[planned.index] = new PermanentError(
        `could not build the Slack message: ${(thrown as Error).message} — check \`messages\` in connectors/${scope.name}.yaml`,
      );
      continue;
    }
    try {
      outcomes[planned.index] = await postAlert(run, planned, content);
    } catch (thrown) {
      outcomes[planned.index] = failedPost(run, thrown, planned);
    }
  }
}

/**
 * One alert: a reply in its conversation's thread, or a message of its own
 * that starts the thread. A reply whose thread is gone comes back from Slack
 * at the top level (or, answered with a thread error, is posted once more
 * without the thread): either way it starts the conversation's new thread.
 */
async function postAlert(run: ChannelRun, planned: Planned, content: MessageContent): Promise<Outcome> {
  const { scope } = run;
  const context: DeliveryContext = planned.context;
  const conversation = conversationOf(scope, context);
  const eventIds = [context.eventId];
  const root = threadOf(run, planned);
  let posted: Posted;
  let replaced = false;
  if (root) {
    const broadcast = (scope.settings.broadcast as readonly unknown[]).includes(context.event.type);
    try {
      posted = await post(scope, planned, content, eventIds, { threadTs: root, broadcast });
    } catch (thrown) {
      const code = (thrown as { data?: { error?: unknown } }).data?.error;
      if (typeof code !== 'string' || !THREAD_GONE_ERRORS.has(code)) throw thrown;
      posted = await post(scope, planned, content, eventIds);
    }
    if (posted.threadTs === root)
      return alertResult(scope, planned, posted, { thread: { reply: { ts: root, broadcast } } });
    replaced = true;
  } else posted = await post(scope, planned, content, eventIds);
  if (!conversation) return alertResult(scope, planned, posted);
  run.started.set(posted.channel, conversation, posted.ts);
  return alertResult(scope, planned, posted, { thread: { starts: { conversation, replaced } } });
}

/**
 * One chat.postMessage in the channel's pacing lane, tagged with the event
 * ids it covers; `threadTs` makes it a reply. The answer's `message.thread_ts`
 * says whether it became one: Slack posts a reply to a parent that no longer
 * exists at the top level instead (threads.ts).
 */
async function post(
  scope: SlackScope,
  planned: Planned,
  content: MessageContent,
  eventIds: string[],
  options: { threadTs?: string; broadcast?: boolean; digest?: boolean } = {},
): Promise<Posted> {
  const { workspace, settings } = scope;
  const client = await scope.client();
  void workspace.workspaceUrl(client); // asked while the post is in flight; the permalink needs it
  const answer = (await workspace.pacer.run(
    planned.lane,
    { intervalMs: settings.channel_interval, maxWaitMs: MAX_CHANNEL_WAIT_MS },
    () =>
      client.apiCall('chat.postMessage', {
        channel: planned.channel,
        text: content.text,
        blocks: content.blocks,
        metadata: {
          event_type: METADATA_TYPE,
          event_payload: { event_ids: eventIds.join(','), ...(options.digest ? { digest: true } : {}) },
        },
        ...(options.threadTs
          ? { thread_ts: options.threadTs, ...(options.broadcast ? { reply_broadcast: true } : {}) }
          : {}),
        unfurl_links: false,
        unfurl_media: false,
      }),
  )) as { channel?: string; ts?: string; message?: { thread_ts?: string } };
  const channelId = answer.channel ?? planned.channel;
  // From now on alerts to either spelling share one pacing lane.
  workspace.learnChannelId(planned.channel, channelId);
  const ts = answer.ts ?? '';
  // Only an answer that shows the message without a thread says the reply was not taken as one.
  const threadTs = answer.message ? answer.message.thread_ts : options.threadTs;
  return { channel: channelId, ts, ...(threadTs && threadTs !== ts ? { threadTs } : {}) };
}

/**
 * The outcome of a failed post, and what it holds back: a token failure
 * every channel of the batch, a channel error, a rate limit or an outage
 * this channel's later alerts (so they are not sent out of order; they go
 * to the engine to retry).
 */
function failedPost(run: ChannelRun, thrown: unknown, planned: Planned): DeliveryError {
  const { error, scope: reach } = failure(run.scope, thrown, planned);
  if (reach === 'token') run.stop.token = error;
  if (reach !== 'message' || error.retryable) run.blocked = error;
  return error;
}

function failure(scope: SlackScope, error: unknown, planned: Planned): SlackFailure {
  if (error instanceof ChannelBusy)
    return {
      scope: 'message',
      error: new RetryableError(`Slack asked to slow down for ${planned.channel}`, {
        retryAfterMs: Math.ceil(error.waitMs),
        statusCode: 429,
      }),
    };
  const found = slackFailure(error, planned.channel, scope.name);
  if (found.error.retryAfterMs !== undefined)
    scope.workspace.pacer.pause(planned.lane, found.error.retryAfterMs);
  return found;
}

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
