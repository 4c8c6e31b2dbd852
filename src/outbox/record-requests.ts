import { AsyncLocalStorage } from 'node:async_hooks';
import diagnosticsChannel from 'node:diagnostics_channel';

/*
 * Design note. The attempt log shows the requests an attempt really made,
 * not what the templates would render now: re-rendering after the call
 * showed a request that may never have been sent (a validation failure
 * before any call), missed the ones that depend on answers (search, then
 * create or update), and cost a second render per delivery.
 *
 * Every vendor SDK we use ends in node:http (axios, node-fetch) or in
 * Node's fetch (undici), and both publish each outgoing request on a
 * diagnostics channel. Each attempt runs inside an AsyncLocalStorage scope
 * holding its own list, so concurrent attempts never see each other's
 * requests, and a connector — ours or a third party's — reports what it sent
 * without doing anything. Query strings are dropped: they may carry keys.
 */

/** One request an attempt sent: method and URL without its query. */
export interface MadeRequest {
  method: string;
  url: string;
}

const scope = new AsyncLocalStorage<MadeRequest[]>();
let listening = false;

function listen(): void {
  if (listening) return;
  listening = true;
  diagnosticsChannel.subscribe('http.client.request.start', (message) => {
    const made = scope.getStore();
    if (!made) return;
    const request = (
      message as {
        request: { method: string; protocol: string; path: string; getHeader(name: string): unknown };
      }
    ).request;
    made.push({
      method: request.method,
      url: withoutQuery(`${request.protocol}//${String(request.getHeader('host'))}${request.path}`),
    });
  });
  diagnosticsChannel.subscribe('undici:request:create', (message) => {
    const made = scope.getStore();
    if (!made) return;
    const request = (message as { request: { method: string; origin: string; path: string } }).request;
    made.push({ method: request.method, url: withoutQuery(`${request.origin}${request.path}`) });
  });
}

function withoutQuery(url: string): string {
  const at = url.indexOf('?');
  return at === -1 ? url : url.slice(0, at);
}

/** Runs `attempt`, collecting every HTTP request made on its behalf (into `made`, even when it throws). */
export async function recordingRequests<T>(made: MadeRequest[], attempt: () => Promise<T>): Promise<T> {
  listen();
  return scope.run(made, attempt);
}

/** "POST https://…/search, POST https://…/contacts (+2 more)": the attempt log's one line. */
export function summarizeRequests(made: readonly MadeRequest[], batch: number): string {
  const shown = made.slice(0, 3).map((request) => `${request.method} ${request.url}`);
  const more = made.length > shown.length ? ` (+${made.length - shown.length} more)` : '';
  const batched = batch > 1 ? `, batch of ${batch}` : '';
  return made.length === 0 ? `no request sent${batched}` : `${shown.join(', ')}${more}${batched}`;
}
