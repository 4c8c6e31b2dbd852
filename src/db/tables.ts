import type { ColumnType, Generated } from 'kysely';

/**
 * Row shapes of leadrelay's tables. Times are Unix milliseconds in integer
 * columns so that SQLite and PostgreSQL compare and index them the same way.
 */
export interface Tables {
  events: EventsTable;
  deliveries: DeliveriesTable;
  attempts: AttemptsTable;
  workers: WorkersTable;
  event_corrections: EventCorrectionsTable;
  identities: IdentitiesTable;
  people: PeopleTable;
}

/** A delivery worker's heartbeat: how many share a connector's rate limit. */
export interface WorkersTable {
  id: string;
  last_seen: number;
}

export type EventStatus = 'accepted' | 'ignored';

export interface EventsTable {
  /** leadrelay's own id (`ev_…`): unique across sources, unlike the platform's id. */
  id: string;
  source: string;
  /** The idempotency key: the event's `id`, else the `webhook-id` header. */
  external_id: string;
  type: string;
  status: EventStatus;
  received_at: number;
  occurred_at: string | null;
  /** The canonical event as JSON text (an ignored payload: the platform's body as sent). */
  payload: string;
  /** A mapped source's body as the platform sent it, for `preview --event` (migration 0002). */
  raw_payload: string | null;
  /**
   * The canonical event as an operator corrected it (migration 0003), which
   * deliveries send from then on; null when never corrected. Ingest never writes it.
   */
  corrected_payload: ColumnType<string | null, string | null | undefined, string | null>;
}

/**
 * - `pending`: waiting for its `next_attempt_at`;
 * - `leased`: claimed by a worker until `lease_expires_at`;
 * - `delivered` / `dead`: final until retried by an admin.
 */
export type DeliveryStatus = 'pending' | 'leased' | 'delivered' | 'dead';

export interface DeliveriesTable {
  /** Increases in the order events were received: the delivery order within a key. */
  id: Generated<number>;
  event_id: string;
  connector: string;
  /** Deliveries with the same connector and key are performed one at a time, in id order. */
  ordering_key: string | null;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: number;
  lease_owner: string | null;
  lease_expires_at: number | null;
  last_error: string | null;
  /** JSON the connector returned (record ids and links), for the admin and for other connectors. */
  result: string | null;
  created_at: number;
  updated_at: number;
}

export type AttemptOutcome = 'delivered' | 'retry' | 'dead';

export interface AttemptsTable {
  id: Generated<number>;
  delivery_id: number;
  started_at: number;
  duration_ms: number;
  outcome: AttemptOutcome;
  status_code: number | null;
  error: string | null;
  /** Short summaries for the admin's timeline; never full bodies with personal data. */
  request_summary: string | null;
  response_summary: string | null;
}

/** One field an operator corrected in a stored event (docs/admin.md, "Correcting an event"). */
export interface EventCorrectionsTable {
  id: Generated<number>;
  event_id: string;
  /** The field, as error messages name it: `contact.email`, `conversation.messages[0].text`. */
  path: string;
  /** JSON text of the value before; null when the field was absent. */
  old_value: string | null;
  /** JSON text of the value after; null when the correction removed the field. */
  new_value: string | null;
  /** Who, as the operator named themselves (one admin token is shared, so this is their word). */
  corrected_by: string;
  /** The client address the correction came from. */
  client: string | null;
  corrected_at: number;
}

/** The identity map: which destination record an identifier resolved to, per connector (migration 0004). */
export interface IdentitiesTable {
  connector: string;
  /** `conversation:SOURCE:ID`, `visitor:SOURCE:ID`, `email:ADDRESS` or `phone:+E164` (src/identity/identifiers.ts). */
  identifier: string;
  /** The connector's own reference, e.g. `contact:101`. */
  record: string;
  event_id: string;
  updated_at: number;
}

/** Which person (ordering key) an identifier belongs to, written at ingest (migration 0005). */
export interface PeopleTable {
  identifier: string;
  person: string;
}
