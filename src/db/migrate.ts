import { type Kysely, PostgresAdapter, sql } from 'kysely';
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
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: 'leadrelay_migrations',
    migrationLockTableName: 'leadrelay_migrations_lock',
    // Without a schema, kysely takes a table of that name in *any* schema as ours: a second
    // leadrelay in another schema of the same database would skip creating its own and fail.
    ...(db.getExecutor().adapter instanceof PostgresAdapter
      ? { migrationTableSchema: await currentSchema(db) }
      : {}),
  });
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await migrator.migrateToLatest();
    // kysely's migrator finds its own table by listing every table of the database;
    // another schema dropped during that listing (another tenant's, a test's) fails it
    // with "schema … does not exist" (3F000), or — a table dropped between the listing and
    // reading its columns — "relation … does not exist" (42P01). Nothing was migrated: look again.
    const code = (error as { code?: string } | undefined)?.code;
    if (error && (code === '3F000' || code === '42P01') && attempt < 10) continue;
    if (error) throw error;
    return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  }
}

/** The schema unqualified names resolve to (the first of `search_path` that exists). */
async function currentSchema(db: Kysely<unknown>): Promise<string> {
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  return rows[0]!.schema;
}
