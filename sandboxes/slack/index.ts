import type { IncomingMessage, ServerResponse } from 'node:http';
import { FaultInjector } from '../faults.ts';
import { type LoopbackServer, listenOnLoopback } from '../server.ts';
import { blockKitProblems } from './block-kit.ts';
import { renderMessageText } from './render-text.ts';
import { BOT_USER, deleteAnswer, historyAnswer, repliesAnswer, threadParent } from './threads.ts';

/** A channel of the sandbox workspace. */
export interface SandboxChannel {
  id: string;
  name: string;
  /** Whether the bot was invited (default true); posting elsewhere answers `not_in_channel`. */
  member?: boolean;
  archived?: boolean;
  private?: boolean;
}

/** What the sandbox answers instead of the normal answer, for the next calls of `method`. */
export interface SlackFault {
  /** Which Web API method it hits (`failNext`: default `chat.postMessage`; `failRandomly`: default any). */
  method?: string;
  /** Answer HTTP 200 `{ ok: false, error }` with this code (`channel_not_found`, `internal_error`, …). */
  error?: string;
  /** Answer this HTTP status (429 comes with Retry-After). */
  status?: number;
  /** Retry-After seconds for a 429 or a `ratelimited` error (default 1). */
  retryAfter?: number;
  /** Wait this long before handling the call. */
  delayMs?: number;
  /** Accept and store the message, then answer only after this long (the answer that never arrived). */
  lateAnswerMs?: number;
  /** Drop the connection without answering. */
  reset?: boolean;
  /** Handle the call as usual (a message is stored), then drop the connection (after `lateAnswerMs`, if set); `status` and `error` are ignored. */
  afterEffect?: boolean;
  /** How `injected` counts it (default: from the fields, e.g. `HTTP 429`, `internal_error`, `reset`). */
  kind?: string;
}

/** A message the sandbox accepted. */
export interface SandboxMessage {
  channel: string;
  channelName: string;
  ts: string;
  text: string | undefined;
  blocks: Record<string, unknown>[];
  metadata: { event_type?: string; event_payload?: Record<string, unknown> } | undefined;
  /** When it was accepted (ms). */
  at: number;
  /** How the body came: `form` (the SDK's way) or `json`. */
  encoding: 'form' | 'json';
  /** For a reply: its parent's ts (the thread it is in). */
  threadTs?: string;
  /** A reply sent with `reply_broadcast`: also shown in the channel. */
  broadcast?: boolean;
  /** Deleted with chat.delete (a parent with replies stays as a tombstone). */
  deleted?: boolean;
}

/** Every Web API call the sandbox answered. */
export interface SandboxCall {
  method: string;
  at: number;
  status: number;
  /** Slack's error code when `ok` was false. */
  error: string | undefined;
  channel: string | undefined;
}

const DEFAULT_CHANNELS: SandboxChannel[] = [
  { id: 'C0SALES01', name: 'sales' },
  { id: 'C0SUPPORT1', name: 'support' },
];

/**
 * A local Slack Web API for tests and `npm run demo`: `chat.postMessage`
 * (form or JSON bodies, `blocks` as a JSON string or an array, replies in
 * threads with `thread_ts` and `reply_broadcast`), `chat.delete`,
 * `auth.test`, `conversations.list`, `conversations.history` and
 * `conversations.replies` (threads as Slack keeps them: threads.ts), with
 * Slack's way of failing — HTTP 200 `{ ok: false, error }` for
 * `invalid_auth`, `channel_not_found`, `not_in_channel`, `is_archived`,
 * `invalid_blocks` (Block Kit limits are checked), `no_text` — a per-channel
 * limit of one message per second answered with 429 + Retry-After, a token
 * check, and injected faults. What it received is in `messages` and `calls`,
 * as JSON at `GET /_sandbox/messages` and as text at
 * `GET /_sandbox/transcript`; permalinks (`/archives/C…/p…`) show one message.
 *
 * @example
 * const slack = await SlackSandbox.start();
 * // connector file: { type: slack, token: slack.token, base_url: slack.url, channel: '#sales' }
 * slack.failNext(1, { error: 'internal_error' });
 * slack.messagesIn('#sales')
 */
export class SlackSandbox {
  readonly messages: SandboxMessage[] = [];
  readonly calls: SandboxCall[] = [];
  readonly channels: SandboxChannel[];
  private readonly faults = new FaultInjector<SlackFault>(faultKind);
  /** Faults injected so far (queued and random), by kind. */
  readonly injected = this.faults.injected;
  private readonly lastPost = new Map<string, number>();
  private lastTs = 0;
  private inactive = false;

  private constructor(
    private readonly http: LoopbackServer,
    /** The Web API root for `base_url` (ends in `/api/`). */
    readonly url: string,
    /** The workspace URL auth.test reports; permalinks start with it. */
    readonly teamUrl: string,
    readonly token: string,
    channels: SandboxChannel[],
    /** Least time between two messages to one channel; 0 turns the limit off. */
    readonly channelIntervalMs: number,
  ) {
    this.channels = channels.map((channel) => ({ member: true, ...channel }));
  }

  static async start(
    options: { port?: number; token?: string; channels?: SandboxChannel[]; channelIntervalMs?: number } = {},
  ): Promise<SlackSandbox> {
    let sandbox: SlackSandbox | undefined;
    const http = await listenOnLoopback((req, res) => void sandbox!.handle(req, res), options.port);
    sandbox = new SlackSandbox(
      http,
      `${http.origin}/api/`,
      `${http.origin}/`,
      options.token ?? 'xoxb-sandbox-token',
      options.channels ?? DEFAULT_CHANNELS,
      options.channelIntervalMs ?? 1000,
    );
    return sandbox;
  }

  /** The next `count` calls of `fault.method` (default chat.postMessage) get `fault`. */
  failNext(count: number, fault: SlackFault): void {
    this.faults.queue(count, fault);
  }

  /**
   * From now on each Web API call fails with probability `rate`, with one of
   * the `faults` for its method (a fault without `method` fits every method)
   * picked at random. Read-only calls (`conversations.history`,
   * `conversations.list`, `auth.test`) get them too: history is leadrelay's
   * check before re-posting, which must not take a failed look-up for "not
   * posted". The `/_sandbox/…` inspection never fails. `failNext` faults come
   * first; `rate` 0 stops.
   */
  failRandomly(rate: number, faults: SlackFault[]): void {
    this.faults.setRandom(rate, faults);
  }

  /** From now on every call answers `account_inactive` (the app was uninstalled). */
  deactivate(): void {
    this.inactive = true;
  }

  /** Messages accepted in a channel, by `#name`, name or id, oldest first: top-level and replies, deleted ones too. */
  messagesIn(channel: string): SandboxMessage[] {
    const found = this.findChannel(channel);
    return found ? this.messages.filter((message) => message.channel === found.id) : [];
  }

  /** The replies in the thread of the message `ts` in `channel`, oldest first. */
  repliesTo(channel: string, ts: string): SandboxMessage[] {
    const found = this.findChannel(channel);
    return found
      ? this.messages.filter((m) => m.channel === found.id && m.threadTs === ts && !m.deleted)
      : [];
  }

  /** Calls answered 429 or `ratelimited`. */
  rateLimited(): SandboxCall[] {
    return this.calls.filter((call) => call.status === 429 || call.error === 'ratelimited');
  }

  /** Every message as text, oldest first, as a person scrolling the channels would read them. */
  transcript(): string {
    return this.messages.map((message) => this.render(message)).join('\n\n');
  }

  /** One message as text, under a line naming its channel and time. */
  render(message: SandboxMessage, options: { heading?: boolean } = {}): string {
    const body = renderMessageText(message);
    if (options.heading === false) return body;
    const time = new Date(message.at).toISOString().slice(11, 19);
    const thread = message.threadTs
      ? ` · reply in thread ${message.threadTs}${message.broadcast ? ', also sent to the channel' : ''}`
      : '';
    const deleted = message.deleted ? ' · deleted' : '';
    return `#${message.channelName} · ${time} · ts ${message.ts}${thread}${deleted}\n${body
      .split('\n')
      .map((line) => `  ${line}`)
      .join('\n')}`;
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method === 'GET') return this.inspect(path, res);
    const method = /^\/api\/([\w.]+)$/.exec(path)?.[1];
    if (req.method !== 'POST' || !method) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not a Web API method');
      return;
    }
    const { params, encoding } = parseBody(raw, req.headers['content-type'] ?? '', req.url ?? '');
    // A queued fault without `method` is for chat.postMessage; a random one fits every method.
    const fault = this.faults.take(
      (queued) => (queued.method ?? 'chat.postMessage') === method,
      (random) => random.method === undefined || random.method === method,
    );
    const call: SandboxCall = {
      method,
      at: Date.now(),
      status: 200,
      error: undefined,
      channel: typeof params.channel === 'string' ? params.channel : undefined,
    };
    if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    if (fault?.reset && !fault.afterEffect) {
      call.status = 0;
      this.calls.push(call);
      req.socket.destroy();
      return;
    }
    let status = 200;
    let answer: Record<string, unknown>;
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
    if (fault?.status && !fault.afterEffect) {
      status = fault.status;
      answer = { ok: false, error: status === 429 ? 'ratelimited' : `http_${status}` };
      if (status === 429) headers['retry-after'] = String(fault.retryAfter ?? 1);
    } else if (fault?.error && !fault.afterEffect) {
      answer = { ok: false, error: fault.error };
      if (fault.error === 'ratelimited') headers['retry-after'] = String(fault.retryAfter ?? 1);
    } else {
      const auth = this.authenticate(req, params);
      if (auth) answer = { ok: false, error: auth };
      else {
        const handled = this.call(method, params, encoding);
        status = handled.status ?? 200;
        answer = handled.answer;
        if (handled.retryAfter !== undefined) headers['retry-after'] = String(handled.retryAfter);
      }
    }
    if (fault?.lateAnswerMs) await new Promise((resolve) => setTimeout(resolve, fault.lateAnswerMs));
    if (fault?.afterEffect) {
      call.status = 0;
      this.calls.push(call);
      req.socket.destroy();
      return;
    }
    call.status = status;
    call.error = answer.ok === false ? String(answer.error) : undefined;
    this.calls.push(call);
    if (res.destroyed) return;
    res.writeHead(status, headers);
    res.end(JSON.stringify(answer));
  }

  private authenticate(req: IncomingMessage, params: Record<string, unknown>): string | undefined {
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer ?? (typeof params.token === 'string' ? params.token : undefined);
    if (!token) return 'not_authed';
    if (token !== this.token) return 'invalid_auth';
    if (this.inactive) return 'account_inactive';
    return undefined;
  }

  private call(
    method: string,
    params: Record<string, unknown>,
    encoding: 'form' | 'json',
  ): { answer: Record<string, unknown>; status?: number; retryAfter?: number } {
    switch (method) {
      case 'auth.test':
        return {
          answer: {
            ok: true,
            url: this.teamUrl,
            team: 'Sandbox',
            user: 'leadrelay',
            team_id: 'T0SANDBOX',
            user_id: BOT_USER,
            bot_id: 'B0LEADRELAY',
          },
        };
      case 'chat.postMessage':
        return this.postMessage(params, encoding);
      case 'conversations.list':
        return { answer: this.list(params) };
      case 'conversations.history':
      case 'conversations.replies':
      case 'chat.delete':
        return { answer: this.read(method, params) };
      default:
        return { answer: { ok: false, error: 'unknown_method' } };
    }
  }

  private postMessage(
    params: Record<string, unknown>,
    encoding: 'form' | 'json',
  ): { answer: Record<string, unknown>; status?: number; retryAfter?: number } {
    const channel = typeof params.channel === 'string' ? this.findChannel(params.channel) : undefined;
    if (!channel || (channel.private && !channel.member))
      return { answer: { ok: false, error: 'channel_not_found' } };
    if (channel.archived) return { answer: { ok: false, error: 'is_archived' } };
    if (!channel.member) return { answer: { ok: false, error: 'not_in_channel' } };
    let blocks: unknown = params.blocks;
    if (typeof blocks === 'string') {
      try {
        blocks = JSON.parse(blocks);
      } catch {
        return { answer: { ok: false, error: 'invalid_blocks_format' } };
      }
    }
    if (blocks !== undefined && !Array.isArray(blocks))
      return { answer: { ok: false, error: 'invalid_blocks_format' } };
    const list = (blocks ?? []) as Record<string, unknown>[];
    const text = typeof params.text === 'string' && params.text !== '' ? params.text : undefined;
    if (!text && list.length === 0) return { answer: { ok: false, error: 'no_text' } };
    const problems = blockKitProblems(list);
    if (problems.length > 0)
      return {
        answer: {
          ok: false,
          error: 'invalid_blocks',
          errors: problems,
          response_metadata: { messages: problems.map((problem) => `[ERROR] ${problem}`) },
        },
      };
    if (text && text.length > 40_000) return { answer: { ok: false, error: 'msg_too_long' } };
    const now = Date.now();
    const last = this.lastPost.get(channel.id);
    if (this.channelIntervalMs > 0 && last !== undefined && now - last < this.channelIntervalMs) {
      const retryAfter = Math.max(1, Math.ceil((this.channelIntervalMs - (now - last)) / 1000));
      return { status: 429, retryAfter, answer: { ok: false, error: 'ratelimited' } };
    }
    this.lastPost.set(channel.id, now);
    let metadata = params.metadata;
    if (typeof metadata === 'string') {
      try {
        metadata = JSON.parse(metadata);
      } catch {
        return { answer: { ok: false, error: 'invalid_metadata_format' } };
      }
    }
    const ts = this.nextTs(now);
    // A thread_ts naming no message here does not fail: the message goes to the top level (threads.ts).
    const parent = params.thread_ts
      ? threadParent(this.messages, channel.id, String(params.thread_ts))
      : undefined;
    const broadcast = params.reply_broadcast === true || params.reply_broadcast === 'true';
    const message: SandboxMessage = {
      channel: channel.id,
      channelName: channel.name,
      ts,
      text,
      blocks: list,
      metadata: metadata as SandboxMessage['metadata'],
      at: now,
      encoding,
      ...(parent ? { threadTs: parent.ts, broadcast } : {}),
    };
    this.messages.push(message);
    return {
      answer: {
        ok: true,
        channel: channel.id,
        ts,
        message: {
          type: 'message',
          subtype: 'bot_message',
          bot_id: 'B0LEADRELAY',
          user: BOT_USER,
          text,
          blocks: list,
          ts,
          ...(parent ? { thread_ts: parent.ts } : {}),
          ...(message.metadata ? { metadata: message.metadata } : {}),
        },
      },
    };
  }

  private list(params: Record<string, unknown>): Record<string, unknown> {
    const types = String(params.types ?? 'public_channel').split(',');
    const excludeArchived = params.exclude_archived === true || params.exclude_archived === 'true';
    const visible = this.channels.filter(
      (channel) =>
        types.includes(channel.private ? 'private_channel' : 'public_channel') &&
        (!channel.private || channel.member) &&
        !(excludeArchived && channel.archived),
    );
    const limit = Math.max(1, Math.min(1000, Number(params.limit ?? 100) || 100));
    const start = params.cursor ? Number(Buffer.from(String(params.cursor), 'base64').toString()) : 0;
    const page = visible.slice(start, start + limit);
    const next = start + limit < visible.length ? Buffer.from(String(start + limit)).toString('base64') : '';
    return {
      ok: true,
      channels: page.map((channel) => ({
        id: channel.id,
        name: channel.name,
        is_channel: true,
        is_private: channel.private === true,
        is_archived: channel.archived === true,
        is_member: channel.member !== false,
      })),
      response_metadata: { next_cursor: next },
    };
  }

  /** conversations.history, conversations.replies and chat.delete: a channel by id, that the bot is in. */
  private read(method: string, params: Record<string, unknown>): Record<string, unknown> {
    const channel = typeof params.channel === 'string' ? this.findChannel(params.channel) : undefined;
    if (!channel || !/^[CGD]/.test(String(params.channel))) return { ok: false, error: 'channel_not_found' };
    if (!channel.member) return { ok: false, error: 'not_in_channel' };
    if (method === 'conversations.replies') return repliesAnswer(this.messages, channel.id, params);
    if (method === 'chat.delete') return deleteAnswer(this.messages, channel.id, params);
    return historyAnswer(this.messages, channel.id, params);
  }

  private findChannel(reference: string): SandboxChannel | undefined {
    const name = reference.replace(/^#/, '').toLowerCase();
    return this.channels.find((channel) => channel.id === reference || channel.name === name);
  }

  /** Slack-shaped message timestamps, unique and increasing: `1764065040.000100`. */
  private nextTs(now: number): string {
    this.lastTs = Math.max(now * 1000, this.lastTs + 1);
    return (this.lastTs / 1_000_000).toFixed(6);
  }

  private inspect(path: string, res: ServerResponse): void {
    if (path === '/_sandbox/messages') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(this.messages));
      return;
    }
    if (path === '/_sandbox/transcript') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`${this.transcript()}\n`);
      return;
    }
    const permalink = /^\/archives\/([A-Z0-9]+)\/p(\d+)$/.exec(path);
    const message = permalink
      ? this.messages.find((m) => m.channel === permalink[1] && m.ts.replace('.', '') === permalink[2])
      : undefined;
    if (message) {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`${this.render(message)}\n`);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  }
}

/** How a fault is counted: `HTTP 429`, `internal_error`, `reset`, `slow 200 ms`, `posted, answer after 1200 ms`… */
function faultKind(fault: SlackFault): string {
  if (fault.kind) return fault.kind;
  const delay = fault.delayMs ? ` after ${fault.delayMs} ms` : '';
  const late = fault.lateAnswerMs ? ` after ${fault.lateAnswerMs} ms` : '';
  if (fault.afterEffect) return `performed, then connection dropped${late}`;
  if (fault.reset) return `reset${delay}`;
  const answer = fault.status ? `HTTP ${fault.status}` : fault.error;
  if (answer) return `${answer}${delay}${late ? `, answered${late}` : ''}`;
  if (fault.lateAnswerMs) return `performed, answer${late}`;
  return `slow ${fault.delayMs ?? 0} ms`;
}

/** Form or JSON body (query parameters too, as Slack takes them) as one record. */
function parseBody(
  raw: string,
  contentType: string,
  url: string,
): { params: Record<string, unknown>; encoding: 'form' | 'json' } {
  const query = Object.fromEntries(new URL(url, 'http://sandbox').searchParams);
  if (contentType.includes('application/json')) {
    try {
      const body = JSON.parse(raw || '{}') as Record<string, unknown>;
      return { params: { ...query, ...body }, encoding: 'json' };
    } catch {
      return { params: query, encoding: 'json' };
    }
  }
  return { params: { ...query, ...Object.fromEntries(new URLSearchParams(raw)) }, encoding: 'form' };
}
