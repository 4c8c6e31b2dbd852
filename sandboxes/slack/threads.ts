import type { SandboxMessage } from './index.ts';

/*
 * Threads and channel reads as Slack's Web API answers them, over the
 * sandbox's list of messages. Sources, per behaviour:
 *
 * - A reply names its parent in `thread_ts`; a parent with replies carries
 *   `thread_ts` (its own ts), `reply_count`, `reply_users_count`,
 *   `reply_users` and `latest_reply` (docs.slack.dev/messaging, "Threading
 *   messages"; the shape of `root` in docs.slack.dev/reference/events/message/thread_broadcast).
 * - `conversations.history` lists the channel's top-level messages; a reply
 *   sent with `reply_broadcast` is also there, with `subtype:
 *   "thread_broadcast"` (same event page); other replies are read with
 *   `conversations.replies`, which answers `thread_not_found` for a `ts`
 *   that names no message (docs.slack.dev/reference/methods/conversations.replies).
 * - `chat.postMessage` with a `thread_ts` naming no message — never posted,
 *   or deleted while it had no replies — does not fail: Slack posts the
 *   message at the top level, and its answer's `message` has no `thread_ts`
 *   (reported in github.com/slack-go/slack/issues/1571 and handled in
 *   github.com/measure-sh/measure/pull/3997). A deleted parent that has
 *   replies stays as a tombstone ("This message was deleted.") that the
 *   thread still hangs from.
 * - `chat.delete` answers `{ ok, channel, ts }`, or `message_not_found`
 *   (docs.slack.dev/reference/methods/chat.delete).
 */

/** The bot user the sandbox's token belongs to (auth.test's `user_id`). */
export const BOT_USER = 'U0LEADRELAY';

type Json = Record<string, unknown>;

/** The message a reply with this `thread_ts` joins: a top-level message of the channel, or the thread of a reply's parent. */
export function threadParent(
  messages: readonly SandboxMessage[],
  channel: string,
  threadTs: string,
): SandboxMessage | undefined {
  const named = messages.find((m) => m.channel === channel && m.ts === threadTs && visible(messages, m));
  if (!named?.threadTs) return named;
  // Slack asks for the parent's ts; a reply's ts is taken to mean its thread.
  return messages.find((m) => m.channel === channel && m.ts === named.threadTs && visible(messages, m));
}

/** Replies of a parent, oldest first (deleted ones left out). */
export function repliesOf(messages: readonly SandboxMessage[], parent: SandboxMessage): SandboxMessage[] {
  return messages.filter((m) => m.channel === parent.channel && m.threadTs === parent.ts && !m.deleted);
}

/** `conversations.history`: top-level messages and broadcast replies, newest first, paged by `next_ts` cursors. */
export function historyAnswer(messages: readonly SandboxMessage[], channel: string, params: Json): Json {
  const oldest = Number(params.oldest ?? 0);
  // Slack's cursors are opaque; theirs decode to `next_ts:<ts>`, and so do ours.
  const cursor =
    typeof params.cursor === 'string' && params.cursor
      ? /^next_ts:(\d+\.\d+)$/.exec(Buffer.from(params.cursor, 'base64').toString('utf8'))?.[1]
      : undefined;
  if (typeof params.cursor === 'string' && params.cursor && !cursor)
    return { ok: false, error: 'invalid_cursor' };
  const latest =
    cursor !== undefined
      ? Number(cursor)
      : params.latest === undefined
        ? Number.POSITIVE_INFINITY
        : Number(params.latest);
  const limit = Math.max(1, Math.min(999, Number(params.limit ?? 100) || 100));
  const found = messages
    .filter((m) => m.channel === channel && (!m.threadTs || m.broadcast) && visible(messages, m))
    .filter((m) => Number(m.ts) > oldest && Number(m.ts) < latest)
    .reverse();
  return {
    ok: true,
    messages: found.slice(0, limit).map((m) => view(messages, m, params)),
    has_more: found.length > limit,
    ...(found.length > limit
      ? {
          response_metadata: {
            next_cursor: Buffer.from(`next_ts:${found[limit - 1]!.ts}`).toString('base64'),
          },
        }
      : {}),
  };
}

/** `conversations.replies`: the parent, then its replies oldest first, paged by offset cursors. */
export function repliesAnswer(messages: readonly SandboxMessage[], channel: string, params: Json): Json {
  const ts = typeof params.ts === 'string' ? params.ts : '';
  const parent = ts ? threadParent(messages, channel, ts) : undefined;
  if (!parent) return { ok: false, error: 'thread_not_found' };
  const thread = [parent, ...repliesOf(messages, parent)];
  const limit = Math.max(1, Math.min(1000, Number(params.limit ?? 1000) || 1000));
  const start = params.cursor ? Number(Buffer.from(String(params.cursor), 'base64').toString()) || 0 : 0;
  const page = thread.slice(start, start + limit);
  const more = start + limit < thread.length;
  return {
    ok: true,
    messages: page.map((m) => view(messages, m, params)),
    has_more: more,
    response_metadata: { next_cursor: more ? Buffer.from(String(start + limit)).toString('base64') : '' },
  };
}

/** `chat.delete`: a parent that still has replies becomes a tombstone; anything else is gone. */
export function deleteAnswer(messages: readonly SandboxMessage[], channel: string, params: Json): Json {
  const ts = typeof params.ts === 'string' ? params.ts : '';
  const message = messages.find((m) => m.channel === channel && m.ts === ts && !m.deleted);
  if (!message) return { ok: false, error: 'message_not_found' };
  message.deleted = true;
  return { ok: true, channel, ts };
}

/** Whether a message is still there to read: not deleted, or a deleted parent whose replies keep it as a tombstone. */
function visible(messages: readonly SandboxMessage[], message: SandboxMessage): boolean {
  return !message.deleted || (!message.threadTs && repliesOf(messages, message).length > 0);
}

/** One message as history and replies show it, with its thread fields. */
function view(messages: readonly SandboxMessage[], message: SandboxMessage, params: Json): Json {
  const withMetadata = params.include_all_metadata === true || params.include_all_metadata === 'true';
  const base: Json = message.deleted
    ? {
        type: 'message',
        subtype: 'tombstone',
        text: 'This message was deleted.',
        user: 'USLACKBOT',
        hidden: true,
      }
    : {
        type: 'message',
        subtype: message.broadcast ? 'thread_broadcast' : 'bot_message',
        user: BOT_USER,
        bot_id: 'B0LEADRELAY',
        text: message.text,
        blocks: message.blocks,
        ...(withMetadata && message.metadata ? { metadata: message.metadata } : {}),
      };
  base.ts = message.ts;
  if (message.threadTs) {
    base.thread_ts = message.threadTs;
    base.parent_user_id = BOT_USER;
    const parent = messages.find((m) => m.channel === message.channel && m.ts === message.threadTs);
    if (message.broadcast && parent)
      base.root = { ts: parent.ts, text: parent.text, ...threadFields(messages, parent) };
    return base;
  }
  return { ...base, ...threadFields(messages, message) };
}

/** A parent's thread summary; nothing for a message without replies. */
function threadFields(messages: readonly SandboxMessage[], parent: SandboxMessage): Json {
  const replies = repliesOf(messages, parent);
  if (replies.length === 0) return {};
  return {
    thread_ts: parent.ts,
    reply_count: replies.length,
    reply_users_count: 1,
    reply_users: [BOT_USER],
    latest_reply: replies.at(-1)!.ts,
    is_locked: false,
  };
}
