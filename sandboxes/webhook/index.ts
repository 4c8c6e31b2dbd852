import type { IncomingMessage, ServerResponse } from 'node:http';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { FaultInjector } from '../faults.ts';
import { type LoopbackServer, listenOnLoopback } from '../server.ts';

/** What the sandbox answers instead of a 200. */
export interface Fault {
  /** Answer with this status (default 500). */
  status?: number;
  retryAfter?: string;
  /** Wait before answering (a slow or timing-out destination). */
  delayMs?: number;
  /** Drop the connection without answering. */
  reset?: boolean;
  body?: string;
}

export interface ReceivedRequest {
  /** The `webhook-id` header: leadrelay's event id. */
  id: string;
  at: number;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** Whether the Standard Webhooks signature verified (undefined when the sandbox has no secret). */
  signatureValid: boolean | undefined;
  /** What the sandbox answered (0 for a reset). */
  status: number;
}

/**
 * A local stand-in for "any URL": records every request it gets and can be
 * told to fail — status codes, Retry-After, slow answers, dropped connections —
 * by a queue of faults or at a random rate. Used by the tests, the benchmarks
 * and `npm run demo`; `GET /_sandbox/received` shows the record over HTTP.
 *
 * @example
 * const sandbox = await WebhookSandbox.start({ secret });
 * sandbox.failNext(2, { status: 503, retryAfter: '1' });
 * // … deliver …
 * sandbox.delivered().length
 */
export class WebhookSandbox {
  readonly received: ReceivedRequest[] = [];
  private readonly faults = new FaultInjector<Fault>(faultKind);
  private listeners: ((request: ReceivedRequest) => void)[] = [];
  private open = 0;
  /** The most requests that were being handled at the same moment. */
  peakConcurrency = 0;

  private constructor(
    private readonly http: LoopbackServer,
    readonly url: string,
    private readonly secret: string | undefined,
  ) {}

  static async start(options: { port?: number; secret?: string } = {}): Promise<WebhookSandbox> {
    let sandbox: WebhookSandbox | undefined;
    const http = await listenOnLoopback((req, res) => void sandbox!.handle(req, res), options.port);
    sandbox = new WebhookSandbox(http, http.origin, options.secret);
    return sandbox;
  }

  /** The next `count` requests get `fault`. */
  failNext(count: number, fault: Fault = {}): void {
    this.faults.queue(count, fault);
  }

  /** From now on, each request fails with probability `rate`, with one of `faults` picked at random. */
  failRandomly(rate: number, faults: Fault[]): void {
    this.faults.setRandom(rate, faults);
  }

  /** Faults injected so far, by kind (`500`, `429`, `reset`, `slow 1200 ms`…). */
  get injected(): Map<string, number> {
    return this.faults.injected;
  }

  /** Requests answered 2xx: the effects a real destination would keep. */
  delivered(): ReceivedRequest[] {
    return this.received.filter((request) => request.status >= 200 && request.status < 300);
  }

  /** Calls `listener` for every request as it is answered (for latency measurements). */
  onRequest(listener: (request: ReceivedRequest) => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    await this.http.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.open++;
    this.peakConcurrency = Math.max(this.peakConcurrency, this.open);
    try {
      await this.answer(req, res);
    } finally {
      this.open--;
    }
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    if (req.method === 'GET' && req.url === '/_sandbox/received') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(this.received.map(({ headers: _headers, ...rest }) => rest)));
      return;
    }
    const fault = this.faults.take(() => true);
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const record: ReceivedRequest = {
      id: header('webhook-id') ?? '',
      at: Date.now(),
      path: req.url ?? '/',
      headers: req.headers,
      body: raw.toString('utf8'),
      signatureValid: this.secret ? signatureValid(this.secret, raw, req.headers) : undefined,
      status: 0,
    };
    if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    if (fault?.reset) {
      this.remember(record);
      req.socket.destroy();
      return;
    }
    record.status = fault ? (fault.status ?? 500) : record.signatureValid === false ? 401 : 200;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (fault?.retryAfter) headers['retry-after'] = fault.retryAfter;
    res.writeHead(record.status, headers);
    res.end(fault?.body ?? JSON.stringify({ ok: record.status === 200 }));
    this.remember(record);
  }

  private remember(record: ReceivedRequest): void {
    this.received.push(record);
    for (const listener of this.listeners) listener(record);
  }
}

/**
 * Checked with the independent `standardwebhooks` package, as a receiver
 * would, so a bug in leadrelay's own signer cannot hide behind the same bug
 * in a shared verifier.
 */
function signatureValid(secret: string, body: Buffer, headers: IncomingMessage['headers']): boolean {
  const wanted = ['webhook-id', 'webhook-timestamp', 'webhook-signature'];
  const found: Record<string, string> = {};
  for (const name of wanted) {
    const value = headers[name];
    if (typeof value === 'string') found[name] = value;
  }
  try {
    new Webhook(secret).verify(body.toString('utf8'), found);
    return true;
  } catch (error) {
    // `verify` also parses the body as JSON; a custom (non-JSON) body with a good signature is still signed.
    return !(error instanceof WebhookVerificationError);
  }
}

function faultKind(fault: Fault): string {
  if (fault.reset) return 'reset';
  if (fault.status === undefined && fault.delayMs) return `slow ${fault.delayMs} ms`;
  return String(fault.status ?? 500);
}
