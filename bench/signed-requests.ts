import { randomBytes } from 'node:crypto';
import { sampleEvent } from '../src/event/sample-events.ts';
import { standardWebhookHeaders } from '../src/util/standard-webhooks-signature.ts';

export interface SignedRequest {
  /** Position in the run; also the tail of the event id, so a stored row maps back to it. */
  seq: number;
  body: string;
  headers: Record<string, string>;
}

/** A `whsec_` secret as a Standard Webhooks sender would be given one. */
export function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

/** What the load generator asks for before every request it sends. */
export interface RequestSource {
  /** Whether every request is a new event, so outcomes can be tracked per sequence number. */
  readonly distinct: boolean;
  make(): SignedRequest;
}

/**
 * Makes distinct, validly signed `lead.qualified` events on demand. Every
 * request needs a new id (a repeated one is answered 200 without a write), so
 * the realistic body is stringified once and only the id is spliced in; what
 * is left per request is the HMAC, the same work a real sender does.
 */
export class SignedRequests implements RequestSource {
  readonly distinct = true;
  private readonly parts: string[];
  private readonly prefix: string;
  private next = 0;

  /**
   * `distinctContacts`: every event from its own contact. The sample event's
   * contact is always the same person, so its deliveries share one ordering
   * key and leadrelay performs them one at a time, in order; the delivery
   * bench wants the usual case of many leads from many people.
   */
  constructor(
    private readonly secret: string,
    options: { distinctContacts?: boolean } = {},
  ) {
    // Printable, because JSON.stringify would escape a control character.
    const marker = '@@seq@@';
    const event = sampleEvent('lead.qualified', marker);
    event.metadata = { sent_by: 'leadrelay bench' };
    if (options.distinctContacts) {
      const contact = event.contact as Record<string, unknown>;
      event.contact = { ...contact, email: `lead_${marker}@acme.example` };
    }
    this.parts = JSON.stringify(event).split(marker);
    // Unique per run, so ids never collide with an earlier run's rows.
    this.prefix = `bench${Date.now().toString(36)}_`;
  }

  make(): SignedRequest {
    const seq = this.next++;
    const suffix = `${this.prefix}${seq}`;
    const body = this.parts.join(suffix);
    return {
      seq,
      body,
      headers: {
        'content-type': 'application/json',
        ...standardWebhookHeaders(this.secret, `evt_test_lead_${suffix}`, body),
      },
    };
  }

  /** The sequence number inside a stored event id, or undefined if it is not one of this run's. */
  seqOf(externalId: string): number | undefined {
    const at = externalId.indexOf(this.prefix);
    if (at < 0) return undefined;
    const seq = Number(externalId.slice(at + this.prefix.length));
    return Number.isInteger(seq) ? seq : undefined;
  }
}

/**
 * A fixed set of signed events, sent round and round. For the bare server,
 * which reads nothing: it gets requests of the same shape and size while the
 * parent's signing stays out of the timed run (signing on demand costs the
 * client about a quarter of its throughput there, where the client is the limit).
 */
export class RepeatedRequests implements RequestSource {
  readonly distinct = false;
  private readonly pool: SignedRequest[];
  private next = 0;

  constructor(source: SignedRequests, count: number) {
    this.pool = Array.from({ length: count }, () => source.make());
  }

  make(): SignedRequest {
    const request = this.pool[this.next]!;
    this.next = (this.next + 1) % this.pool.length;
    return request;
  }
}

/**
 * Microseconds the parent spends making one request, measured on a throwaway
 * generator so the run's sequence numbers stay dense.
 */
export function signingCostMicros(secret: string, samples = 20_000): number {
  const scratch = new SignedRequests(secret);
  for (let i = 0; i < 2_000; i++) scratch.make(); // let V8 optimise before timing
  const start = process.hrtime.bigint();
  for (let i = 0; i < samples; i++) scratch.make();
  return Number(process.hrtime.bigint() - start) / 1_000 / samples;
}
