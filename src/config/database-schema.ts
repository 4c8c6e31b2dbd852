import { z } from 'zod';
import { duration } from '../util/duration.ts';

/**
 * The main file's `database:` section, in a module of its own so that
 * reading it alone (load-database-settings.ts) loads little.
 */
export const databaseSchema = z
  .strictObject({
    url: z.string().default('sqlite:./data/leadrelay.db'),
    durability: z.enum(['full', 'normal']).default('full'),
    /** How long a write waits for a lock held by another process before the request gets 503. */
    busy_timeout: duration.prefault('5s'),
  })
  .prefault({});

export type DatabaseSettings = z.output<typeof databaseSchema>;

/**
 * The main file's top-level keys, for reading `database:` alone without the
 * whole schema: a misspelled `databse:` is still refused with a suggestion.
 * `test/start-up.test.ts` keeps this list equal to the main schema's keys.
 */
export const MAIN_FILE_KEYS = [
  'server',
  'database',
  'sources',
  'routes',
  'mapping',
  'delivery',
  'drift_watch',
  'alerts',
] as const;
