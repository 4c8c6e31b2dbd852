import { type ColumnDataType, type Kysely, PostgresAdapter } from 'kysely';

/*
 * Design note. An operator may correct fields of a stored event (a mistyped
 * email a CRM refused) before retrying its dead deliveries (docs/admin.md).
 * `events.payload` stays what arrived; the event as corrected goes in
 * `events.corrected_payload`, which the worker reads instead when it is set
 * (one `coalesce` in the claim, no extra read). Each changed field is a row of
 * `event_corrections` — path, old and new value as JSON text (null: absent /
 * removed), who (as the operator named themselves; the admin token is shared)
 * and from where, when — so the history is kept and shown. Corrections go
 * with their event (foreign-key cascade) when retention deletes it; the index
 * serves both the event page's read and that cascade. Adding a nullable
 * column rewrites nothing on either dialect, and nothing on ingest's hot path
 * changes: a fresh event leaves the column null.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const idType: ColumnDataType = postgres ? 'bigserial' : 'integer';

  await db.schema.alterTable('events').addColumn('corrected_payload', 'text').execute();
  await db.schema
    .createTable('event_corrections')
    .addColumn('id', idType, (col) => (postgres ? col.primaryKey() : col.primaryKey().autoIncrement()))
    .addColumn('event_id', 'text', (col) => col.notNull().references('events.id').onDelete('cascade'))
    .addColumn('path', 'text', (col) => col.notNull())
    .addColumn('old_value', 'text')
    .addColumn('new_value', 'text')
    .addColumn('corrected_by', 'text', (col) => col.notNull())
    .addColumn('client', 'text')
    .addColumn('corrected_at', 'bigint', (col) => col.notNull())
    .execute();
  await db.schema
    .createIndex('event_corrections_event')
    .on('event_corrections')
    .columns(['event_id', 'id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('event_corrections').execute();
  await db.schema.alterTable('events').dropColumn('corrected_payload').execute();
}
