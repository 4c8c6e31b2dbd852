import type { ConfigHolder } from '../config/config-holder.ts';
import type { Database } from '../db/database.ts';
import { recentSourceEvents } from '../outbox/recent-source-events.ts';
import type { Logger } from '../util/logger.ts';
import { DRIFT, type SourceReport, sourceReport } from './source-report.ts';

/** Where the watch's findings go: ops alerts and `/metrics`. */
export interface DriftSinks {
  alert(info: { source: string; warnings: string[] }): void;
  gauge(source: string, warnings: number): void;
}

/** Every configured source's report, from the stored events (the CLI and the admin page call this too). */
export async function sourceReports(db: Database['db'], sources: readonly string[]): Promise<SourceReport[]> {
  const reports: SourceReport[] = [];
  for (const source of sources)
    reports.push(sourceReport(source, await recentSourceEvents(db, source, DRIFT.window * 2)));
  return reports;
}

/**
 * The drift watch ("monitor for unexpected data shapes"): every `intervalMs`
 * it computes each source's report and raises an ops alert for each warning
 * that is new — once while it lasts; a warning that clears and comes back is
 * alerted again. `/metrics` shows the current number of warnings per source.
 */
export class DriftWatch {
  private readonly alerted = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  /** Rounds run one after another, so two never both take a warning for new. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly options: {
      store: Database;
      config: ConfigHolder;
      sinks: DriftSinks;
      logger: Logger;
      intervalMs: number;
    },
  ) {}

  start(): void {
    const tick = () => {
      this.running = this.check()
        .catch((error: unknown) => this.options.logger.error({ err: error }, 'drift watch failed'))
        .finally(() => {
          this.running = undefined;
          if (this.timer) this.timer = setTimeout(tick, this.options.intervalMs).unref();
        });
    };
    this.timer = setTimeout(tick, this.options.intervalMs).unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One round: reports for every configured source; alerts for new warnings. */
  check(): Promise<SourceReport[]> {
    const round = this.queue.then(() => this.round());
    this.queue = round.catch(() => {});
    return round;
  }

  private async round(): Promise<SourceReport[]> {
    const sources = Object.keys(this.options.config.current.main.sources);
    const reports = await sourceReports(this.options.store.db, sources);
    for (const report of reports) {
      this.options.sinks.gauge(report.source, report.warnings.length);
      const before = this.alerted.get(report.source) ?? new Set<string>();
      const fresh = report.warnings.filter((warning) => !before.has(warning.key));
      this.alerted.set(report.source, new Set(report.warnings.map((warning) => warning.key)));
      if (fresh.length === 0) continue;
      this.options.logger.warn(
        { source: report.source, warnings: fresh.map((warning) => warning.message) },
        'source drift',
      );
      this.options.sinks.alert({ source: report.source, warnings: fresh.map((warning) => warning.message) });
    }
    return reports;
  }
}
