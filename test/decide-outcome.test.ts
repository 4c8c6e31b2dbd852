import { describe, expect, it } from 'vitest';
import { DeliveryError, PermanentError, RetryableError } from '../connectors/errors.ts';
import { decideOutcome } from '../src/outbox/decide-outcome.ts';

const timing = { startedAt: 1_000, durationMs: 12, requestSummary: 'POST https://crm.example/leads' };
const policy = { schedule: [0, 10_000, 60_000], now: 5_000, random: () => 0.5 };

describe('what an attempt means for its delivery', () => {
  const cases: [string, { attempts: number }, unknown, Record<string, unknown>][] = [
    [
      'a result: delivered, with the result kept',
      { attempts: 1 },
      { summary: 'contact 7 created', statusCode: 201, data: { id: 7 } },
      { finish: { status: 'delivered', result: { id: 7 } }, outcome: 'delivered', statusCode: 201 },
    ],
    [
      'a retryable error: pending after the schedule',
      { attempts: 1 },
      new RetryableError('HTTP 503', { statusCode: 503 }),
      {
        finish: { status: 'pending', nextAttemptAt: 15_000, error: 'HTTP 503' },
        outcome: 'retry',
        statusCode: 503,
      },
    ],
    [
      'Retry-After longer than the schedule: it wins',
      { attempts: 1 },
      new RetryableError('rate limited', { statusCode: 429, retryAfterMs: 30_000 }),
      { finish: { status: 'pending', nextAttemptAt: 35_000, error: 'rate limited' }, outcome: 'retry' },
    ],
    [
      'the schedule used up: dead, saying so',
      { attempts: 3 },
      new RetryableError('HTTP 500'),
      { finish: { status: 'dead', error: 'gave up after 3 attempts: HTTP 500' }, outcome: 'dead' },
    ],
    [
      'a permanent error: dead at once, whatever is left of the schedule',
      { attempts: 1 },
      new PermanentError('invalid email', { statusCode: 400 }),
      { finish: { status: 'dead', error: 'invalid email' }, outcome: 'dead', statusCode: 400 },
    ],
    [
      'anything else thrown: retryable (never dropped)',
      { attempts: 1 },
      new TypeError('undefined is not a function'),
      {
        finish: { status: 'pending', nextAttemptAt: 15_000, error: 'undefined is not a function' },
        outcome: 'retry',
      },
    ],
    [
      'held back, nothing sent: waits, never uses up the schedule, gives the attempt back',
      { attempts: 9 },
      new DeliveryError('held behind an earlier alert', { retryable: true, notSent: true }),
      {
        finish: { status: 'pending', nextAttemptAt: 65_000, error: 'held behind an earlier alert' },
        outcome: 'retry',
        uncounted: true,
      },
    ],
  ];

  for (const [name, row, outcome, expected] of cases) {
    it(name, () => {
      const { item } = decideOutcome({ id: 42, ...row }, outcome, timing, policy);
      expect(item.id).toBe(42);
      expect(item.finish).toEqual(expected.finish);
      expect(item.attempt).toMatchObject({ ...timing, outcome: expected.outcome });
      if (expected.statusCode !== undefined) expect(item.attempt!.statusCode).toBe(expected.statusCode);
      expect(item.uncounted ?? false).toBe(expected.uncounted ?? false);
    });
  }
});
