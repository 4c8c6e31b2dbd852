import pg from 'pg';
import { expect, it } from 'vitest';
import { openStore } from '../src/db/open-store.ts';
import { freshPostgresSchema, TEST_DATABASE_URL } from './helpers/harness.ts';

// Several leadrelay instances (or test runs) share one PostgreSQL database, each in its
// own schema. kysely's own introspector lists every table of the database; schemas, tables
// and columns coming and going meanwhile must not fail another instance's start
// (src/db/migrate.ts looks in its own schema only).
it.skipIf(!TEST_DATABASE_URL)('migrates while other schemas of the database come and go', async () => {
  const churn = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await churn.connect();
  let stop = false;
  const churning = (async () => {
    for (let i = 0; !stop; i++) {
      const name = `churn_${process.pid}_${i}`;
      await churn.query(
        `create schema ${name}; create table ${name}.t (id serial, v text); create table ${name}.u (id int)`,
      );
      // Columns come and go too: the listing used to read each column's sequence as the catalog is now.
      await churn.query(`alter table ${name}.t add column w int; alter table ${name}.t drop column v`);
      await churn.query(`drop schema ${name} cascade`);
    }
  })();
  try {
    for (let i = 0; i < 15; i++) {
      const schema = await freshPostgresSchema();
      try {
        const { store, applied } = await openStore({
          url: schema.url,
          durability: 'normal',
          busy_timeout: 5000,
        });
        expect(applied).toEqual([
          '0001-initial',
          '0002-raw-payloads',
          '0003-event-corrections',
          '0004-identities',
          '0005-people',
        ]);
        await store.close();
      } finally {
        await schema.drop();
      }
    }
  } finally {
    stop = true;
    await churning;
    await churn.end();
  }
});
