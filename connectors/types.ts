import type { z } from 'zod';
import type { DeliveryError } from './errors.ts';

/** What a connector is given to deliver one event. */
export interface DeliveryContext {
  /** The canonical event (SPEC §3), including fields leadrelay does not know. */
  event: Readonly<Record<string, unknown>>;
  /** leadrelay's id for the event (`ev_…`); stable across retries, so usable as an idempotency marker. */
  eventId: string;
  deliveryId: number;
  source: string;
  receivedAt: number;
  /**
   * 1 for the first attempt; more when an earlier attempt may have written —
   * also after an operator retried a dead delivery, whose schedule starts
   * again. A connector checks for its earlier writes whenever this is above 1.
   */
  attempt: number;
  /**
   * On a retry: a time (ms) by which every earlier attempt had finished its
   * writes. A check before redo that reads through an eventually consistent
   * index (HubSpot's search) can only trust "nothing found" once that index
   * has had its lag since then. Undefined on a first attempt.
   */
  earlierAttemptsEndedBy?: number | undefined;
  /**
   * What other connectors' deliveries of this event returned (record ids,
   * links), by connector name — only for the connectors this one `waitsFor`.
   * A key present with `undefined` means "routed there, but not delivered";
   * a missing key means "not routed there".
   */
  related: Readonly<Record<string, Readonly<Record<string, unknown>> | undefined>>;
  /** The status of each of those related deliveries: `delivered`, `dead`, or still `pending`/`leased` (it did not finish in time). */
  relatedStatus?: Readonly<Record<string, string>>;
  /**
   * For a connector that `remembers`: the event's identifiers of the person, most specific
   * first (`conversation:SOURCE:ID`, `visitor:SOURCE:ID`, `email:ADDRESS`, `phone:+E164`)…
   */
  identifiers?: readonly string[];
  /**
   * …and the record this connector's earlier deliveries resolved each of them to, where
   * one did (`{ 'conversation:bot:c1': 'contact:101' }`): the identity map (docs/identity.md).
   */
  known?: Readonly<Record<string, string>>;
}

/** One request a connector would send, as `preview` shows it. Secrets are masked. */
export interface PlannedRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  /** Why this request, when it depends on what the destination answers (e.g. "only if no contact matched"). */
  note?: string;
}

export interface DeliveryResult {
  /** One line for the admin: "contact 101 updated, note 2001 created". */
  summary: string;
  /**
   * Kept with the delivery (JSON): record ids and links that admins and other
   * connectors use. By convention a CRM puts the record's ids here and its
   * web links under `links` (see {@link RecordLink}), which Slack alerts turn
   * into buttons.
   */
  data?: Record<string, unknown> & { links?: RecordLink[] };
  statusCode?: number;
  /**
   * The record the person resolved to (the connector's own reference, e.g. `contact:101`):
   * leadrelay maps the event's identifiers to it — all of them, or only `identifiers` when
   * some belong elsewhere (an email that names another record) — so that the next event
   * with any of them goes to the same record.
   *
   * `replaces` names a record (or several) the destination no longer has under that
   * reference — merged into `record`, a Lead converted into it, deleted and recreated as
   * it: every identifier mapped to one, those of other events too, moves to `record`, so
   * no later event tries the dead id again.
   */
  identity?: { record: string; identifiers?: readonly string[]; replaces?: string | readonly string[] };
}

/** A link to a record a delivery created or updated, e.g. `{ label: 'Open in HubSpot', url }`. */
export interface RecordLink {
  label: string;
  url: string;
}

export interface ConnectorLimits {
  /** Deliveries in flight at once for this connector. */
  concurrency: number;
  /** Requests allowed per interval, as the destination publishes them. */
  rate: { requests: number; perMs: number } | undefined;
  /** Events per `deliverBatch` call; 1 when the connector has no batch API. */
  batchSize: number;
}

/** A configured connector (one `config/connectors/NAME.yaml`), ready to deliver. */
export interface Connector {
  readonly name: string;
  readonly type: string;
  readonly limits: ConnectorLimits;
  /** The exact requests `deliver` would send for this event. Sends nothing. */
  preview(context: DeliveryContext): PlannedRequest[];
  /** Delivers one event; throws a {@link DeliveryError} (or anything, taken as retryable) on failure. */
  deliver(context: DeliveryContext): Promise<DeliveryResult>;
  /** Delivers several events in as few calls as the API allows; one outcome per input, in order. */
  deliverBatch?(contexts: DeliveryContext[]): Promise<(DeliveryResult | DeliveryError)[]>;
  /**
   * True when the connector uses the identity map: each delivery then gets `identifiers`
   * and `known`, and what its result's `identity` names is recorded.
   */
  readonly remembers?: boolean;
  /** Connectors whose results this one wants in `related` before it runs (e.g. Slack buttons to CRM records). */
  readonly waitsFor?: { connectors: readonly string[]; timeoutMs: number };
  close?(): Promise<void>;
}

/** What a connector may use from its surroundings; nothing of HTTP serving or the database. */
export interface ConnectorEnvironment {
  now(): number;
  /**
   * How many worker processes share each destination's rate limit right now
   * (1 unless several instances share a PostgreSQL database). A connector that
   * keeps its own request budget divides it by this.
   */
  rateShare?(): number;
  log(level: 'debug' | 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void;
}

/**
 * A kind of destination (`hubspot`, `slack`, …): the schema of its YAML file
 * and how to build a {@link Connector} from a validated file.
 */
export interface ConnectorType<Settings extends z.ZodObject = z.ZodObject> {
  readonly type: string;
  readonly description: string;
  /** Every key of the YAML file except `type`; strict, with defaults. */
  readonly settings: Settings;
  create(name: string, settings: z.output<Settings>, environment: ConnectorEnvironment): Connector;
}

/** Helps type a connector type's `create` against its own settings schema. */
export function defineConnectorType<Settings extends z.ZodObject>(
  type: ConnectorType<Settings>,
): ConnectorType<Settings> {
  return type;
}
