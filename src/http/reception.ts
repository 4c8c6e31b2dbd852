import type { IncomingMessage } from 'node:http';

/**
 * How much receiving the HTTP server does at once, and how slowly it lets a
 * body arrive. Read from the configuration on every request, so a reload
 * applies to the next one.
 */
export interface ReceptionLimits {
  /** Requests being received or processed at once, from everyone. */
  maxInflight: number;
  /** The same, from one client address: one sender can never take them all. */
  maxInflightPerClient: number;
  /** Bytes of bodies held in memory at once, from everyone; one client may hold a quarter of it. */
  maxBuffered: number;
  /** A body must have arrived this long after its headers. */
  bodyTimeoutMs: number;
  /** …and, after the first {@link GRACE_MS}, at least this many bytes a second on average. */
  minBodyRate: number;
}

/** A body may start slowly (a TLS handshake, a cold client); the rate counts after this. */
export const GRACE_MS = 2_000;

/** The client closed the connection before its body ended: nobody is left to answer. */
export class ClientGone extends Error {
  constructor() {
    super('the client closed the connection before the body ended');
  }
}

/** Why a request was not received: the answer to send, then close the connection. */
export class NotReceived extends Error {
  constructor(
    readonly status: 408 | 413 | 429 | 503,
    readonly code: string,
    message: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

interface Reading {
  started: number;
  received: number;
  fail(error: NotReceived): void;
}

/*
 * Design note. A webhook endpoint is public: anyone who learns its URL can
 * open connections to it, and nothing about a request can be trusted until
 * its body has arrived in full and its signature verifies. So everything
 * before that point is bounded, and bounded per sender:
 *
 * - a slot per request, in total and per client address (behind trusted
 *   proxies, the forwarded address): a thousand connections from one sender
 *   take its own few slots, not the service's;
 * - the bytes held: a body's declared length is reserved before a byte is
 *   read (a chunked one as it arrives), against one budget for the process
 *   of which one client may hold a quarter;
 * - time: a body must arrive within `body_timeout`, and after a short grace
 *   at `min_body_rate` on average, so a sender dribbling a byte every few
 *   seconds loses its slot in seconds, not at the request timeout.
 *
 * One ticker checks every body being read (not a timer each), so ten
 * thousand stalled bodies cost one callback a second each, not more.
 */
export class Reception {
  private total = 0;
  private readonly byClient = new Map<string, number>();
  private buffered = 0;
  private readonly bufferedByClient = new Map<string, number>();
  private readonly reading = new Set<Reading>();
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly limits: () => ReceptionLimits,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Requests in flight now, and body bytes held (for tests and metrics). */
  get load(): { inflight: number; buffered: number } {
    return { inflight: this.total, buffered: this.buffered };
  }

  /**
   * Takes a slot for one request from `client`, or throws {@link NotReceived}
   * (429) when the client or everyone is at the limit. `leave` must be called
   * when the request is done, answered or not.
   */
  enter(client: string): { read(req: IncomingMessage, limit: number): Promise<Buffer>; leave(): void } {
    const limits = this.limits();
    const mine = this.byClient.get(client) ?? 0;
    if (mine >= limits.maxInflightPerClient)
      throw new NotReceived(
        429,
        'too_many_requests',
        `too many requests in flight from ${client} (at most ${limits.maxInflightPerClient}); retry shortly`,
        1,
      );
    if (this.total >= limits.maxInflight)
      throw new NotReceived(429, 'overloaded', 'leadrelay is shedding load; retry shortly', 1);
    this.byClient.set(client, mine + 1);
    this.total++;
    let reserved = 0;
    let left = false;
    return {
      read: (req, limit) =>
        this.read(req, limit, (bytes) => {
          const clientHolds = this.bufferedByClient.get(client) ?? 0;
          if (this.buffered + bytes > limits.maxBuffered || clientHolds + bytes > limits.maxBuffered / 4)
            return false;
          this.buffered += bytes;
          this.bufferedByClient.set(client, clientHolds + bytes);
          reserved += bytes;
          return true;
        }),
      leave: () => {
        if (left) return;
        left = true;
        this.buffered -= reserved;
        if (reserved > 0) {
          const holds = (this.bufferedByClient.get(client) ?? reserved) - reserved;
          if (holds <= 0) this.bufferedByClient.delete(client);
          else this.bufferedByClient.set(client, holds);
        }
        this.total--;
        const count = (this.byClient.get(client) ?? 1) - 1;
        if (count === 0) this.byClient.delete(client);
        else this.byClient.set(client, count);
      },
    };
  }

  private read(req: IncomingMessage, limit: number, reserve: (bytes: number) => boolean): Promise<Buffer> {
    const declared = Number(req.headers['content-length']);
    const knownLength = req.headers['content-length'] !== undefined && Number.isFinite(declared);
    if (knownLength && declared > limit)
      return Promise.reject(
        new NotReceived(413, 'payload_too_large', `the body is larger than ${limit} bytes`),
      );
    if (knownLength && declared > 0 && !reserve(declared)) return Promise.reject(bufferFull());
    // Events rather than `for await`: leaving an async iterator early destroys
    // the stream, and with it the socket our answer still has to travel on.
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      const reading: Reading = {
        started: this.now(),
        received: 0,
        fail: (error) => {
          stop();
          req.pause();
          reject(error);
        },
      };
      const stop = () => {
        this.reading.delete(reading);
        if (this.reading.size === 0) {
          clearInterval(this.ticker);
          this.ticker = undefined;
        }
        req.off('data', onData);
        req.off('end', onEnd);
        req.off('error', onError);
        req.off('close', onClose);
      };
      const onData = (chunk: Buffer) => {
        reading.received += chunk.length;
        if (reading.received > limit)
          return reading.fail(
            new NotReceived(413, 'payload_too_large', `the body is larger than ${limit} bytes`),
          );
        if (!knownLength && !reserve(chunk.length)) return reading.fail(bufferFull());
        chunks.push(chunk);
      };
      const onEnd = () => {
        stop();
        resolve(Buffer.concat(chunks, reading.received));
      };
      const onError = (error: Error & { code?: string }) => {
        stop();
        // A reset or abort while reading is the client leaving, not a fault of ours.
        reject(
          error instanceof ClientGone || error.code === 'ECONNRESET' || error.code === 'ECONNABORTED'
            ? new ClientGone()
            : error,
        );
      };
      const onClose = () => onError(new ClientGone());
      req.on('data', onData);
      req.once('end', onEnd);
      req.once('error', onError);
      req.once('close', onClose);
      this.reading.add(reading);
      this.ticker ??= setInterval(() => this.check(), 250);
      this.ticker.unref?.();
    });
  }

  /** Fails the bodies that are late or too slow. */
  private check(): void {
    const limits = this.limits();
    const now = this.now();
    for (const reading of [...this.reading]) {
      const elapsed = now - reading.started;
      if (elapsed >= limits.bodyTimeoutMs) {
        reading.fail(
          new NotReceived(
            408,
            'request_timeout',
            `the body did not arrive within ${Math.round(limits.bodyTimeoutMs / 1000)} s (${reading.received} bytes received)`,
          ),
        );
      } else if (elapsed >= GRACE_MS && reading.received < (limits.minBodyRate * elapsed) / 1000) {
        reading.fail(
          new NotReceived(
            408,
            'request_timeout',
            `the body arrived too slowly: ${reading.received} bytes in ${(elapsed / 1000).toFixed(1)} s (at least ${limits.minBodyRate} bytes/s)`,
          ),
        );
      }
    }
  }
}

function bufferFull(): NotReceived {
  return new NotReceived(503, 'overloaded', 'leadrelay is receiving too much at once; retry shortly', 1);
}
