import { type DeliveryError, PermanentError, RetryableError } from '../errors.ts';
import { alertResult, conversationLink, type Outcome, type Planned, type Posted } from './alert.ts';
import { buildDigest, type MessageContent } from './blocks.ts';
import { type SlackFailure, slackFailure } from './errors.ts';
import { findPostedEarlier } from './history.ts';
import { ChannelBusy } from './pacer.ts';
import { METADATA_TYPE, type SlackScope } from './scope.ts';

/** Longest a delivery waits inside the connector for a channel paused by a 429 before handing the wait to the engine. */
const MAX_CHANNEL_WAIT_MS = 3000;

/**
 * The alerts of one channel, in event order: those an earlier attempt
 * already posted are found, not re-posted; the rest go as one digest when
 * there are more than `digest_after`, else one message each, paced per
 * channel. A failure that is about the channel, the token, or "slow down"
 * holds the channel's later alerts back so they never go out of order.
 * `stop.token` carries a token failure to the other channels of the batch.
 */
export async function postChannelAlerts(
  scope: SlackScope,
  group: Planned[],
  outcomes: Outcome[],
  stop: { token?: DeliveryError },
): Promise<void> {
  const { found, error: unchecked } = await findPostedEarlier(scope, group);
  if (unchecked) {
    // What the pages read before the failure found is delivered; the other retried alerts wait
    // to be checked again, and the channel's new ones wait behind them, in order.
    for (const planned of group) {
      const posted = found.get(planned.context.eventId);
      outcomes[planned.index] = posted
        ? await alertResult(scope, planned, posted, { again: true })
        : planned.context.attempt > 1
          ? unchecked
          : heldBack(unchecked, planned.channel);
    }
    return;
  }
  const pending: Planned[] = [];
  for (const planned of group) {
    const posted = found.get(planned.context.eventId);
    if (posted) outcomes[planned.index] = await alertResult(scope, planned, posted, { again: true });
    else pending.push(planned);
  }
  const digestAfter = scope.settings.digest_after;
  if (digestAfter !== 'off' && pending.length > digestAfter)
    await postDigest(scope, pending, digestAfter, outcomes, stop);
  else await postOneByOne(scope, pending, outcomes, stop);
}

async function postDigest(
  scope: SlackScope,
  pending: Planned[],
  digestAfter: number,
  outcomes: Outcome[],
  stop: { token?: DeliveryError },
): Promise<void> {
  const messages = buildDigest(
    scope.digestLine,
    pending.map((planned) => ({
      event: planned.context.event,
      links: [...planned.crmLinks, ...conversationLink(planned.context.event)],
    })),
    digestAfter,
  );
  let blocked: DeliveryError | undefined;
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
        scope,
        head,
        message,
        part.map((planned) => planned.context.eventId),
      );
      for (const planned of part)
        outcomes[planned.index] = await alertResult(scope, planned, posted, {
          digest: { ts: posted.ts, size: pending.length, position: pending.indexOf(planned) + 1 },
        });
    } catch (thrown) {
      const { error: failed, scope: reach } = failure(scope, thrown, head);
      for (const planned of part) outcomes[planned.index] = failed;
      if (reach === 'token') stop.token = failed;
      if (reach !== 'message' || failed.retryable) blocked = failed;
    }
  }
}

async function postOneByOne(
  scope: SlackScope,
  pending: Planned[],
  outcomes: Outcome[],
  stop: { token?: DeliveryError },
): Promise<void> {
  let blocked: DeliveryError | undefined;
  for (const planned of pending) {
    const error = stop.token ?? blocked;
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
      const posted = await post(scope, planned, content, [planned.context.eventId]);
      outcomes[planned.index] = await alertResult(scope, planned, posted);
    } catch (thrown) {
      const { error: failed, scope: reach } = failure(scope, thrown, planned);
      outcomes[planned.index] = failed;
      if (reach === 'token') stop.token = failed;
      // A channel error, a rate limit or an outage holds the channel's later alerts back too,
      // so they are not sent out of order; they go to the engine to retry.
      if (reach !== 'message' || failed.retryable) blocked = failed;
    }
  }
}

/** One chat.postMessage in the channel's pacing lane, tagged with the event ids it covers. */
async function post(
  scope: SlackScope,
  planned: Planned,
  content: MessageContent,
  eventIds: string[],
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
        metadata: { event_type: METADATA_TYPE, event_payload: { event_ids: eventIds.join(',') } },
        unfurl_links: false,
        unfurl_media: false,
      }),
  )) as { channel?: string; ts?: string };
  const channelId = answer.channel ?? planned.channel;
  // From now on alerts to either spelling share one pacing lane.
  workspace.learnChannelId(planned.channel, channelId);
  return { channel: channelId, ts: answer.ts ?? '' };
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
