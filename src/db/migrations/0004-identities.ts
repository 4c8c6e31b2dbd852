import type { Kysely } from 'kysely';

/*
 * Design note. The identity map (docs/identity.md): per connector, which
 * record in the destination each identifier of a person — a conversation, the
 * platform's visitor id, an email, a phone — has resolved to. One row per
 * (connector, identifier): the primary key is the look-up a delivery makes
 * (all of an event's identifiers for one connector: a handful of point reads)
 * and the upsert it records. A record reference is the connector's own text
 * (`contact:101`, `Lead:00Q…`, `thread:C0SALES01:1700000000.000100`), opaque
 * here. `event_id` says which event last resolved it, for the admin's
 * "why does this email go to that record". Rows are small and one per person
 * and identifier, not per event: they are not pruned with events, because
 * forgetting them is what creates duplicate records.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('identities')
    .addColumn('connector', 'text', (col) => col.notNull())
    .addColumn('identifier', 'text', (col) => col.notNull())
    .addColumn('record', 'text', (col) => col.notNull())
    .addColumn('event_id', 'text', (col) => col.notNull())
    .addColumn('updated_at', 'bigint', (col) => col.notNull())
    .addPrimaryKeyConstraint('identities_pk', ['connector', 'identifier'])
    .execute();
  // `leadrelay identities show` and the admin panel go from a record to every identifier it holds.
  await db.schema
    .createIndex('identities_record')
    .on('identities')
    .columns(['connector', 'record'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('identities').execute();
}
