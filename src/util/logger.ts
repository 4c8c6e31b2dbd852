import pino, { type Logger } from 'pino';

export type { Logger };

/** JSON lines on stdout; `LOG_LEVEL` picks the level. */
export function createLogger(
  options: { level?: string | undefined; destination?: pino.DestinationStream } = {},
): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  return pino(
    { level, base: { service: 'leadrelay' } },
    options.destination ?? pino.destination({ sync: false }),
  );
}

/** A logger that discards everything: for tests and one-shot commands that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
