import type { Connector } from '../../connectors/types.ts';
import type { LoadedConfig } from '../config/load-config.ts';
import type { DeliveryAlerts, IdentityConflict } from '../observability/alerts.ts';
import type { ServiceMetrics } from '../observability/metrics.ts';
import type { Logger } from '../util/logger.ts';
import type { ClaimedDelivery } from './claim-deliveries.ts';
import type { ConnectorCapacity } from './connector-capacity.ts';
import { decideOutcome } from './decide-outcome.ts';
import type { FinishItem } from './finish-delivery.ts';

/**
 * Everything an attempt's outcome means beyond its own row: the metrics, the
 * log line, the ops alert for a dead delivery, a rate pause from Retry-After,
 * and the connector's health (failure runs, the circuit breaker, recovery).
 * The decision itself is the pure decide-outcome.ts; this only acts on it.
 */
export class OutcomeReporter {
  constructor(
    private readonly options: {
      logger: Logger;
      metrics?: ServiceMetrics | undefined;
      alerts?: DeliveryAlerts | undefined;
      capacity: ConnectorCapacity;
      now: () => number;
      random: () => number;
    },
  ) {}

  /** Decides what the attempt means for its row, acts on it, and returns what to record. */
  report(
    config: LoadedConfig,
    connector: Connector,
    row: ClaimedDelivery,
    outcome: unknown,
    timing: { startedAt: number; durationMs: number; requestSummary: string },
  ): FinishItem {
    const { logger, metrics, alerts, capacity, now } = this.options;
    const { item, error, retryInMs } = decideOutcome(row, outcome, timing, {
      schedule: config.main.delivery.retry_schedule,
      now: now(),
      random: this.options.random,
    });
    metrics?.attemptFinished(connector.name, item.attempt!.outcome, timing.durationMs);
    if (!error) {
      this.healthy(connector);
      const conflict = conflictOf(outcome);
      if (conflict) {
        // Delivered, but to a second record of one person: a person merges, or says they are two.
        logger.warn(
          {
            event_id: row.eventId,
            delivery_id: row.id,
            connector: connector.name,
            known: conflict.known,
            used: conflict.used,
          },
          'delivered to another record than this person resolved to before; nothing merged',
        );
        alerts?.identityConflict({
          connector: connector.name,
          eventId: row.eventId,
          deliveryId: row.id,
          conflict,
        });
      }
      return item;
    }
    if (error.retryAfterMs !== undefined)
      capacity.of(connector).limiter.pauseUntil(now() + error.retryAfterMs);
    const about = { event_id: row.eventId, delivery_id: row.id, connector: connector.name };
    if (item.finish.status === 'dead') {
      logger.warn({ ...about, error: item.finish.error }, 'delivery is dead');
      alerts?.deliveryDead({
        connector: connector.name,
        eventId: row.eventId,
        deliveryId: row.id,
        error: item.finish.error,
      });
    } else {
      logger.info({ ...about, retry_in_ms: retryInMs, error: error.message }, 'delivery failed; will retry');
    }
    // A delivery held back without being sent says nothing new about the destination's health.
    if (!item.uncounted && error.retryable) this.failing(config, connector, error.message);
    return item;
  }

  /** A breaker-open probe is starting. */
  probing(connector: Connector, row: ClaimedDelivery): void {
    this.options.logger.info(
      { connector: connector.name, event_id: row.eventId, delivery_id: row.id },
      'circuit breaker open: probing with one delivery',
    );
  }

  /** A delivery succeeded: the connector's failure run ends and an open breaker closes. */
  private healthy(connector: Connector): void {
    const { logger, metrics, alerts, capacity } = this.options;
    const ended = capacity.of(connector).health.succeeded();
    if (ended.breakerClosed) {
      logger.info(
        { connector: connector.name, failing_since: ended.failingSince, failures: ended.failures },
        'connector recovered; circuit breaker closed, deliveries resume',
      );
      metrics?.breaker(connector.name, false);
    }
    if (ended.wasFailing) alerts?.connectorRecovered(connector.name);
  }

  /** A retryable failure (validation errors do not count); may open the breaker. */
  private failing(config: LoadedConfig, connector: Connector, error: string): void {
    const { logger, metrics, alerts, capacity, now } = this.options;
    const health = capacity.of(connector).health;
    const breaker = config.main.delivery.breaker;
    if (health.failed(now(), breaker)) {
      metrics?.breaker(connector.name, true);
      logger.warn(
        {
          connector: connector.name,
          failing_since: health.failingSince,
          failures: health.failures,
          probe_interval_ms: breaker.probe_interval,
          error,
        },
        'connector keeps failing; circuit breaker open, deliveries held back except one probe at a time',
      );
    }
    alerts?.connectorFailing({
      connector: connector.name,
      since: health.failingSince!,
      failures: health.failures,
      error,
    });
  }
}

/** A result's `data.conflict` (docs/identity.md), when it has a well-formed one. */
function conflictOf(outcome: unknown): IdentityConflict | undefined {
  const data = (outcome as { data?: { conflict?: unknown } } | undefined)?.data;
  const conflict = data?.conflict as Partial<IdentityConflict> | undefined;
  if (!conflict || typeof conflict.known !== 'string' || typeof conflict.used !== 'string') return undefined;
  return {
    identifier: typeof conflict.identifier === 'string' ? conflict.identifier : undefined,
    known: conflict.known,
    used: conflict.used,
    links: Array.isArray(conflict.links)
      ? conflict.links.filter((link) => typeof link?.label === 'string' && typeof link?.url === 'string')
      : [],
  };
}
