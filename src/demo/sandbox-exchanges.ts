import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * Design note. `leadrelay sandbox` logs every request a sandbox answers
 * without the sandboxes knowing: they are the tests' doubles and stay as
 * the vendors behave. Node publishes each request a server receives and
 * each response it finishes on diagnostics channels; we keep those of the
 * server on our port, and copy the answer's body as the sandbox writes it,
 * because the vendor's reason for a refusal (HubSpot's PROPERTY_DOESNT_EXIST,
 * Slack's `ok: false`) is what an admin trying a mapping needs to read.
 */

/** One request the sandbox answered. */
export interface Exchange {
  method: string;
  /** Without the query string. */
  path: string;
  query: URLSearchParams;
  status: number;
  /** The answer's body as text (cut at 64 KB). */
  answer: string;
  /** The request as the server saw it (its `headers` object identifies it). */
  request: IncomingMessage;
}

const ANSWER_LIMIT = 64 * 1024;

/**
 * Calls `onExchange` for each response a server of this process listening on
 * `port` finishes. Returns the function that stops watching.
 *
 * @example
 * const stop = watchExchanges(8091, (exchange) => console.log(exchange.method, exchange.path, exchange.status));
 */
export function watchExchanges(port: number, onExchange: (exchange: Exchange) => void): () => void {
  const answers = new WeakMap<ServerResponse, Buffer[]>();
  const ours = (server: Server) => (server.address() as AddressInfo | null)?.port === port;
  const onStart = (message: unknown) => {
    const { response, server } = message as { response: ServerResponse; server: Server };
    if (!ours(server)) return;
    const chunks: Buffer[] = [];
    answers.set(response, chunks);
    const keep = (chunk: unknown) => {
      if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
      if (chunks.reduce((size, part) => size + part.length, 0) >= ANSWER_LIMIT) return;
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    };
    const write = response.write.bind(response) as (...args: unknown[]) => boolean;
    const end = response.end.bind(response) as (...args: unknown[]) => ServerResponse;
    response.write = ((chunk: unknown, ...rest: unknown[]) => {
      keep(chunk);
      return write(chunk, ...rest);
    }) as ServerResponse['write'];
    response.end = ((chunk?: unknown, ...rest: unknown[]) => {
      keep(chunk);
      return end(chunk, ...rest);
    }) as ServerResponse['end'];
  };
  const onFinish = (message: unknown) => {
    const { request, response, server } = message as {
      request: IncomingMessage;
      response: ServerResponse;
      server: Server;
    };
    if (!ours(server)) return;
    const url = new URL(request.url ?? '/', 'http://sandbox');
    onExchange({
      method: request.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      status: response.statusCode,
      answer: Buffer.concat(answers.get(response) ?? []).toString('utf8'),
      request,
    });
  };
  diagnosticsChannel.subscribe('http.server.request.start', onStart);
  diagnosticsChannel.subscribe('http.server.response.finish', onFinish);
  return () => {
    diagnosticsChannel.unsubscribe('http.server.request.start', onStart);
    diagnosticsChannel.unsubscribe('http.server.response.finish', onFinish);
  };
}

/** One thing an answer said no (or "not found") to, in the vendor's words. */
export interface AnswerProblem {
  text: string;
  /** False for an answer that is only news, like a batch read's "not found". */
  refused: boolean;
}

/**
 * The vendor's own words when an answer refuses something: HubSpot's
 * `category: message` (and each failed input of a 207), Salesforce's
 * `errorCode: message` (also per record of a collection call and per
 * subrequest of a composite call) and OAuth `error: error_description`,
 * Slack's `ok: false` error code. At most three.
 *
 * @example
 * answerProblems('{"ok":false,"error":"channel_not_found"}') // [{ text: 'channel_not_found', refused: true }]
 */
export function answerProblems(answer: string): AnswerProblem[] {
  let body: unknown;
  try {
    body = JSON.parse(answer);
  } catch {
    return [];
  }
  const problems: AnswerProblem[] = [];
  const add = (text: string, refused = true) => {
    if (problems.length < 3)
      problems.push({ text: text.length > 240 ? `${text.slice(0, 239)}…` : text, refused });
  };
  const salesforce = (item: unknown) => {
    const { errorCode, statusCode, message } = (item ?? {}) as Record<string, unknown>;
    const code = errorCode ?? statusCode;
    if (typeof code === 'string') add(`${code}: ${String(message ?? '')}`);
  };
  if (Array.isArray(body)) {
    for (const item of body) {
      const record = (item ?? {}) as Record<string, unknown>;
      if (record.success === false && Array.isArray(record.errors)) record.errors.forEach(salesforce);
      else salesforce(item);
    }
    return problems;
  }
  if (!body || typeof body !== 'object') return problems;
  const object = body as Record<string, unknown>;
  if (object.ok === false && typeof object.error === 'string') add(object.error);
  else if (typeof object.error === 'string' && typeof object.error_description === 'string')
    add(`${object.error}: ${object.error_description}`);
  else if (object.status === 'error' && typeof object.message === 'string')
    add(`${object.category ?? 'error'}: ${object.message}`);
  if (Array.isArray(object.errors) && object.status !== 'error')
    for (const error of object.errors) {
      // HubSpot's 207: each input's own answer; "not found" from a batch read is only news.
      const { category, message } = (error ?? {}) as Record<string, unknown>;
      if (typeof message === 'string')
        add(`${category ?? 'error'}: ${message}`, category !== 'OBJECT_NOT_FOUND');
    }
  if (Array.isArray(object.compositeResponse))
    for (const sub of object.compositeResponse as { body?: unknown; httpStatusCode?: number }[])
      if ((sub.httpStatusCode ?? 200) >= 400 && Array.isArray(sub.body)) sub.body.forEach(salesforce);
  return problems;
}
