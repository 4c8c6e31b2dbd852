import type { Database, Durability } from './database.ts';
import { migrateToLatest } from './migrate.ts';
import { openDatabase } from './open-database.ts';

/**
 * Opens the configured database and applies pending migrations, closing it
 * again if they fail: how the service and every command that reads the
 * outbox start. Returns the store and the migrations applied now.
 */
export async function openStore(database: {
  url: string;
  durability: Durability;
  busy_timeout: number;
}): Promise<{ store: Database; applied: string[] }> {
  const store = await openDatabase(database.url, {
    durability: database.durability,
    busyTimeoutMs: database.busy_timeout,
  });
  try {
    return { store, applied: await migrateToLatest(store.db as never) };
  } catch (error) {
    await store.close();
    throw error;
  }
}
