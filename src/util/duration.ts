import { z } from 'zod';
import { parseDuration } from './units.ts';

/** A duration such as `10s`, validated at load time, carried as milliseconds. */
export const duration = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `"${value}" is not a duration (examples: 500ms, 10s, 5m, 2h, 1d)`,
    });
    return z.NEVER;
  }
  return ms;
});
