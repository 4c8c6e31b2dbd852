import { type ColumnDataType, type Kysely, PostgresAdapter, sql } from 'kysely';

/*
 * Design note. The outbox is one row per (event, connector). Workers claim,
 * per connector, due rows with `status = 'pending' AND next_attempt_at <= now`
 * (index `deliveries_due`), or rows whose lease has run out
 * (`deliveries_lease`); both are partial indexes over unfinished rows, so a
 * claim costs the same whether the table holds a thousand delivered rows or
 * ten million.
 * Per-key ordering asks "is there an earlier unfinished delivery for this
 * connector and key?", answered by the partial index `deliveries_key_open`,
 * which only holds unfinished rows and so stays small however long history is.
 * The same statements run on PostgreSQL, where claims add FOR UPDATE SKIP LOCKED.
 *
 * Ingest inserts one event and N deliveries per request, so every index
 * touched by an insert costs on the hot path. Events need no index on time:
 * their ids are time-ordered ULIDs. Admin lists of dead rows and retention of
 * delivered rows use partial indexes that a fresh `pending` row never enters.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // The same tables on both dialects; only the id column type differs
  // (SQLite: INTEGER PRIMARY KEY AUTOINCREMENT; PostgreSQL: bigserial).
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const serialId = (type: ColumnDataType) => (postgres ? 'bigserial' : type);
  const autoIncrement = <T extends { autoIncrement(): T }>(col: T): T =>
    postgres ? col : col.autoIncrement();
  const idType: ColumnDataType = postgres ? 'bigint' : 'integer';

  await db.schema
    .createTable('events')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('source', 'text', (col) => col.notNull())
    .addColumn('external_id', 'text', (col) => col.notNull())
    .addColumn('type', 'text', (col) => col.notNull())
    .addColumn('status', 'text', (col) => col.notNull().defaultTo('accepted'))
    .addColumn('received_at', 'bigint', (col) => col.notNull())
    .addColumn('occurred_at', 'text')
    .addColumn('payload', 'text', (col) => col.notNull())
    .addUniqueConstraint('events_source_external_id', ['source', 'external_id'])
    .execute();

  await db.schema
    .createTable('deliveries')
    .addColumn('id', serialId('integer'), (col) => autoIncrement(col.primaryKey()))
    .addColumn('event_id', 'text', (col) => col.notNull().references('events.id').onDelete('cascade'))
    .addColumn('connector', 'text', (col) => col.notNull())
    .addColumn('ordering_key', 'text')
    .addColumn('status', 'text', (col) => col.notNull())
    .addColumn('attempts', 'integer', (col) => col.notNull().defaultTo(0))
    .addColumn('next_attempt_at', 'bigint', (col) => col.notNull())
    .addColumn('lease_owner', 'text')
    .addColumn('lease_expires_at', 'bigint')
    .addColumn('last_error', 'text')
    .addColumn('result', 'text')
    .addColumn('created_at', 'bigint', (col) => col.notNull())
    .addColumn('updated_at', 'bigint', (col) => col.notNull())
    .execute();
  await db.schema
    .createIndex('deliveries_due')
    .on('deliveries')
    .columns(['connector', 'next_attempt_at', 'id'])
    .where(sql.ref('status'), '=', 'pending')
    .execute();
  await db.schema
    .createIndex('deliveries_lease')
    .on('deliveries')
    .columns(['connector', 'lease_expires_at'])
    .where(sql.ref('status'), '=', 'leased')
    .execute();
  await db.schema
    .createIndex('deliveries_key_open')
    .on('deliveries')
    .columns(['connector', 'ordering_key', 'id'])
    .where(sql.ref('status'), 'in', ['pending', 'leased'])
    .execute();
  await db.schema.createIndex('deliveries_event').on('deliveries').columns(['event_id']).execute();
  await db.schema
    .createIndex('deliveries_dead')
    .on('deliveries')
    .columns(['connector', 'updated_at'])
    .where(sql.ref('status'), '=', 'dead')
    .execute();
  await db.schema
    .createIndex('deliveries_delivered')
    .on('deliveries')
    .columns(['updated_at'])
    .where(sql.ref('status'), '=', 'delivered')
    .execute();

  await db.schema
    .createTable('attempts')
    .addColumn('id', serialId('integer'), (col) => autoIncrement(col.primaryKey()))
    .addColumn('delivery_id', idType, (col) => col.notNull().references('deliveries.id').onDelete('cascade'))
    .addColumn('started_at', 'bigint', (col) => col.notNull())
    .addColumn('duration_ms', 'integer', (col) => col.notNull())
    .addColumn('outcome', 'text', (col) => col.notNull())
    .addColumn('status_code', 'integer')
    .addColumn('error', 'text')
    .addColumn('request_summary', 'text')
    .addColumn('response_summary', 'text')
    .execute();
  await db.schema.createIndex('attempts_delivery').on('attempts').columns(['delivery_id', 'id']).execute();

  // Live delivery workers (heartbeats), so that several processes can share a
  // connector's rate limit: each takes rate / (workers seen lately).
  await db.schema
    .createTable('workers')
    .addColumn('id', 'text', (col) => col.primaryKey())
    .addColumn('last_seen', 'bigint', (col) => col.notNull())
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('workers').execute();
  await db.schema.dropTable('attempts').execute();
  await db.schema.dropTable('deliveries').execute();
  await db.schema.dropTable('events').execute();
}
