// The outbox's write seam: what ingest hands over and what it gets back,
// whichever dialect (or the SQLite writer thread) performs the write.

/** An accepted event and the connectors it is routed to, ready to be written. */
export interface EventToStore {
  id: string;
  source: string;
  externalId: string;
  type: string;
  receivedAt: number;
  occurredAt: string | null;
  payload: string;
  /** A mapped source's body as sent, kept beside the canonical event it became. */
  rawPayload?: string | null;
  connectors: readonly string[];
  /** Used when the event gives no identifier of a person (see `identifiers`). */
  orderingKey: string | null;
  /**
   * The person's identifiers (src/identity/identifiers.ts): when present, the
   * deliveries' ordering key is the person they belong to, found or linked in
   * the write's own transaction (src/identity/person-key.ts).
   */
  identifiers?: readonly string[];
  /** `ignored`: a mapped source's payload that maps to no event; kept for idempotency, never delivered. */
  status?: 'accepted' | 'ignored';
}

export interface StoredEvent {
  /** The stored event's id: the new one, or the first copy's for a duplicate. */
  id: string;
  deliveries: number;
  duplicate: boolean;
}
