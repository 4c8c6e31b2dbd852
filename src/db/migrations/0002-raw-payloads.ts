import type { Kysely } from 'kysely';

/*
 * Design note. A mapped source (a preset or an admin's `map:`) stores the
 * canonical event it built in `events.payload`; the platform's own body is
 * what an admin needs to try an edited mapping on what really arrived
 * (`leadrelay preview --event`). It goes in `events.raw_payload`, in the same
 * row, so it shares the event's retention and deletion. Ignored payloads keep
 * theirs in `payload` as before (there is no canonical event to store), and a
 * canonical source's body *is* its payload: both leave `raw_payload` null.
 * Adding a nullable column rewrites nothing on either dialect.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('events').addColumn('raw_payload', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('events').dropColumn('raw_payload').execute();
}
