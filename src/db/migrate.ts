import { type DatabaseIntrospector, type Kysely, PostgresAdapter, sql, type TableMetadata } from 'kysely';
import * as initial from './migrations/0001-initial.ts';
import * as rawPayloads from './migrations/0002-raw-payloads.ts';
import * as eventCorrections from './migrations/0003-event-corrections.ts';
import * as identities from './migrations/0004-identities.ts';
import * as people from './migrations/0005-people.ts';

/** One schema step; the shape kysely's Migrator runs. */
interface Migration {
  up(db: Kysely<unknown>): Promise<void>;
  down?(db: Kysely<unknown>): Promise<void>;
}

// Listed, not read from a folder, so migrations ship inside the package and
// their order is explicit.
const migrations: Record<string, Migration> = {
  '0001-initial': initial,
  '0002-raw-payloads': rawPayloads,
  '0003-event-corrections': eventCorrections,
  '0004-identities': identities,
  '0005-people': people,
};

/** The part of kysely's Migrator we use; the same in 0.28 and 0.29. */
interface MigratorLike {
  migrateToLatest(): Promise<{
    error?: unknown;
    results?: { migrationName: string; status: 'Success' | 'Error' | 'NotExecuted' }[];
  }>;
}
type MigratorClass = new (props: {
  db: Kysely<unknown>;
  provider: { getMigrations(): Promise<Record<string, Migration>> };
  migrationTableName: string;
  migrationLockTableName: string;
  migrationTableSchema?: string;
}) => MigratorLike;

/**
 * kysely 0.29 moved the Migrator from the root entry to `kysely/migration`;
 * 0.28, the last line that runs on Node 20, has no such entry. While both are
 * supported, take it from whichever the installed kysely has (see
 * docs/upgrading.md: this goes when Node 20 support does). The specifier is a
 * variable so the type-checker, which sees one kysely only, does not insist.
 */
async function loadMigrator(): Promise<MigratorClass> {
  const root = (await import('kysely')) as unknown as { Migrator?: unknown };
  if (typeof root.Migrator === 'function') return root.Migrator as MigratorClass;
  const entry = 'kysely/migration';
  const moved = (await import(entry)) as { Migrator: MigratorClass };
  return moved.Migrator;
}

/** Applies every pending migration; returns the names applied. */
export async function migrateToLatest(db: Kysely<unknown>): Promise<string[]> {
  const Migrator = await loadMigrator();
  const schema = db.getExecutor().adapter instanceof PostgresAdapter ? await currentSchema(db) : undefined;
  const migrator = new Migrator({
    db: schema === undefined ? db : lookingInOnly(db, schema),
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'leadrelay_migrations',
    migrationLockTableName: 'leadrelay_migrations_lock',
    // Without a schema, kysely takes a table of that name in *any* schema as ours: a second
    // leadrelay in another schema of the same database would skip creating its own and fail.
    ...(schema === undefined ? {} : { migrationTableSchema: schema }),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error;
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/*
 * Design note. kysely's Migrator finds its schema and its two tables through
 * the database's introspector. On PostgreSQL that one lists every column of
 * every table in every schema, calling has_schema_privilege and
 * pg_get_serial_sequence on each; those functions read the catalog as it is
 * now, not as the query's snapshot saw it, so DDL in *another* schema during
 * the listing — another tenant's migration, a test dropping its schema —
 * failed our start with "schema … does not exist" (3F000), "relation … does
 * not exist" (42P01) or "column … of relation … does not exist" (42703): each
 * was seen in loaded test runs, and retrying one code after another only
 * waited for the next. The migrator only asks whether its own schema and
 * tables exist, so it gets an introspector that looks in that one schema,
 * with plain catalog reads under one snapshot.
 */
function lookingInOnly(db: Kysely<unknown>, schema: string): Kysely<unknown> {
  const introspection: DatabaseIntrospector = {
    async getSchemas() {
      const { rows } = await sql<{ name: string }>`
        select nspname as name from pg_catalog.pg_namespace where nspname = ${schema}`.execute(db);
      return rows;
    },
    async getTables(): Promise<TableMetadata[]> {
      const { rows } = await sql<{ name: string; is_view: boolean }>`
        select c.relname as name, c.relkind = 'v' as is_view
        from pg_catalog.pg_class c join pg_catalog.pg_namespace ns on ns.oid = c.relnamespace
        where ns.nspname = ${schema} and c.relkind in ('r', 'v', 'p')`.execute(db);
      return rows.map((row) => ({ name: row.name, schema, isView: row.is_view, columns: [] }));
    },
    async getMetadata() {
      return { tables: await this.getTables() };
    },
  };
  // Kysely keeps its state in private fields, so its methods run on the instance itself.
  return new Proxy(db, {
    get(target, property) {
      if (property === 'introspection') return introspection;
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** The schema unqualified names resolve to (the first of `search_path` that exists). */
async function currentSchema(db: Kysely<unknown>): Promise<string> {
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  return rows[0]!.schema;
}
