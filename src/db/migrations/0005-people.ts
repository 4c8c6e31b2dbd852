import type { Kysely } from 'kysely';

/*
 * Design note. Ingest's side of identity: which person (an ordering key)
 * each identifier of an event belongs to, so that deliveries of one person
 * are kept in order although their events carry different details — a phone
 * first, an email later in the same conversation (src/identity/person-key.ts).
 * Unlike `identities` it knows nothing of any CRM: it is written in the
 * event's own transaction, before any delivery, which is what ordering needs.
 * One row per identifier ever seen with a delivery; the primary key is both
 * the look-up (≤ 4 point reads per event) and the conflict target of the
 * insert. Not pruned with events: forgetting a link would split a person's
 * ordering again.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('people')
    .addColumn('identifier', 'text', (col) => col.primaryKey())
    .addColumn('person', 'text', (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('people').execute();
}
