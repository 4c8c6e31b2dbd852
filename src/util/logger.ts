import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { redact, scrubText } from '../observability/redact.ts';

export type { Logger };

export interface LoggerOptions {
  level?: string | undefined;
  destination?: pino.DestinationStream;
  /** Log emails, phones and transcript text as they are (`LOG_PII=true`); masked by default. */
  pii?: boolean;
  /** Human-readable lines (pino-pretty); default: when stdout is a terminal and no destination is given. */
  pretty?: boolean;
}

/**
 * JSON lines on stdout (pretty when stdout is a terminal); `LOG_LEVEL` picks
 * the level. Personal data is masked in every line unless `LOG_PII=true`
 * (docs/operations.md): a formatter walks each log object and the message.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  const pii = options.pii ?? process.env.LOG_PII === 'true';
  const usePretty = options.pretty ?? (options.destination === undefined && process.stdout.isTTY === true);
  const destination =
    options.destination ??
    (usePretty
      ? pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' })
      : pino.destination({ sync: false }));
  return pino(
    {
      level,
      base: { service: 'leadrelay' },
      ...(pii
        ? {}
        : {
            formatters: {
              log: (object: Record<string, unknown>) => redact(object) as Record<string, unknown>,
            },
            hooks: {
              logMethod(args: unknown[], method: (...inner: unknown[]) => void) {
                method.apply(
                  this,
                  args.map((arg) => (typeof arg === 'string' ? scrubText(arg) : arg)),
                );
              },
            },
          }),
    },
    destination,
  );
}

/** A logger that discards everything: for tests and one-shot commands that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
