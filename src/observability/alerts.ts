import type { Connector, DeliveryContext, RecordLink } from '../../connectors/types.ts';
import { newId } from '../util/ids.ts';
import type { Logger } from '../util/logger.ts';
import type { ServiceMetrics } from './metrics.ts';
import { scrubText } from './redact.ts';

/** What the delivery worker reports; the worker does not know whether alerts are configured. */
export interface DeliveryAlerts {
  deliveryDead(info: { connector: string; eventId: string; deliveryId: number; error: string }): void;
  /** A retryable failure; `since` is when the connector's current run of failures began. */
  connectorFailing(info: { connector: string; since: number; failures: number; error: string }): void;
  connectorRecovered(connector: string): void;
  /**
   * A delivery went to another record than the one this person resolved to before (the
   * lead's email is on another record): nothing was merged, a person decides.
   */
  identityConflict(info: {
    connector: string;
    eventId: string;
    deliveryId: number;
    conflict: IdentityConflict;
  }): void;
}

/** What a connector's result says of a conflict (`data.conflict`, docs/identity.md). */
export interface IdentityConflict {
  /** The identifier that names the other record, e.g. `email:dana@acme.example`. */
  identifier?: string | undefined;
  /** The record this person's earlier events went to, e.g. `contact:101`. */
  known: string;
  /** The record this delivery went to. */
  used: string;
  /** Both records' web links. */
  links: RecordLink[];
}

type AlertKind = 'dead' | 'failing' | 'recovered' | 'drift' | 'conflict';

interface Subject {
  lastSentAt: number | undefined;
  /** Alerts held back by `min_interval` since the last one sent. */
  suppressed: { dead: number; failing: number; conflict: number; lastError: string | undefined };
  flush: NodeJS.Timeout | undefined;
  /** `since` of the failure run a "failing" alert was already raised for. */
  failingAlerted: number | undefined;
}

/**
 * Ops alerts (docs/operations.md): a dead delivery, or a connector failing
 * for `alerts.after_failing_for`, is posted through the connector named by
 * `alerts.to` — at most one alert per connector per `alerts.min_interval`;
 * the ones held back are counted in the next alert, which is sent when the
 * interval ends even if nothing else happens.
 *
 * The alert goes through the connector's ordinary `deliver`, as a synthetic
 * canonical `conversation.escalated` event (`escalation.reason`, `priority:
 * high`, `summary` with the error and the fixing command;
 * `conversation.url` = the admin page when configured;
 * `metadata.leadrelay_alert` with the structured fields), so a Slack or
 * webhook connector renders it without special support. It is sent once,
 * not through the outbox: a failure to alert is logged, not retried. The
 * alert connector's own failures are never alerted through itself.
 */
/** What alerts read of the configuration in force, at every alert (so a reload takes effect). */
export interface AlertsConfig {
  alerts:
    | {
        to: string;
        after_failing_for?: number | undefined;
        min_interval: number;
        on_dead: boolean;
        admin_url?: string | undefined;
      }
    | undefined;
  /** The breaker's `after_failing_for`: the default of the alert's own. */
  breakerAfterFailingFor: number;
  connectors: ReadonlyMap<string, Connector>;
}

export class OpsAlerts implements DeliveryAlerts {
  private readonly subjects = new Map<string, Subject>();
  private readonly sending = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly options: {
      config: () => AlertsConfig;
      logger: Logger;
      metrics?: ServiceMetrics | undefined;
      now?: () => number;
      /** Email/phone in error texts are masked unless true (`LOG_PII`). */
      pii?: boolean;
    },
  ) {}

  private get now(): number {
    return (this.options.now ?? Date.now)();
  }

  private settings() {
    const { alerts, breakerAfterFailingFor } = this.options.config();
    if (!alerts) return undefined;
    return { ...alerts, afterFailingFor: alerts.after_failing_for ?? breakerAfterFailingFor };
  }

  deliveryDead(info: { connector: string; eventId: string; deliveryId: number; error: string }): void {
    const settings = this.settings();
    if (!settings?.on_dead || this.isAlertConnector(info.connector, info.error)) return;
    this.raise(info.connector, 'dead', info.error, {
      reason: `Delivery to ${info.connector} is dead`,
      lines: [`Delivery ${info.deliveryId} of event ${info.eventId} to "${info.connector}" is dead.`],
      ids: { event_id: info.eventId, delivery_id: info.deliveryId },
    });
  }

  connectorFailing(info: { connector: string; since: number; failures: number; error: string }): void {
    const settings = this.settings();
    if (!settings || this.isAlertConnector(info.connector, info.error)) return;
    const failingFor = this.now - info.since;
    if (failingFor < settings.afterFailingFor) return;
    const subject = this.subject(info.connector);
    if (subject.failingAlerted === info.since) return;
    subject.failingAlerted = info.since;
    this.raise(info.connector, 'failing', info.error, {
      reason: `${info.connector} has been failing for ${minutes(failingFor)}`,
      lines: [
        `Every attempt to "${info.connector}" has failed since ${new Date(info.since).toISOString()} (${info.failures} attempts). Deliveries keep retrying on the schedule; the circuit breaker holds them back and probes.`,
      ],
      ids: { failing_since: new Date(info.since).toISOString(), failures: info.failures },
    });
  }

  connectorRecovered(connector: string): void {
    const subject = this.subjects.get(connector);
    if (!this.settings() || subject?.failingAlerted === undefined) return;
    subject.failingAlerted = undefined;
    // Not rate-limited: it closes an alert that was sent.
    this.send(connector, 'recovered', undefined, {
      reason: `${connector} recovered`,
      lines: [`Deliveries to "${connector}" succeed again.`],
      ids: {},
    });
  }

  /**
   * Two records for one person (docs/identity.md): sent with both records' links, at most
   * one per connector per `min_interval` (apart from its dead and failing alerts); the
   * ones held back are counted in one more alert when the interval ends, as dead ones are.
   */
  identityConflict(info: {
    connector: string;
    eventId: string;
    deliveryId: number;
    conflict: IdentityConflict;
  }): void {
    const settings = this.settings();
    if (!settings || this.closed) return;
    const key = `conflict:${info.connector}`;
    const subject = this.subject(key);
    const { known, used } = info.conflict;
    const identifier = info.conflict.identifier ? this.text(info.conflict.identifier) : 'an identifier';
    if (subject.lastSentAt !== undefined && this.now - subject.lastSentAt < settings.min_interval) {
      subject.suppressed.conflict++;
      this.options.metrics?.alert(info.connector, 'conflict', 'suppressed');
      this.options.logger.warn(
        { connector: info.connector, event_id: info.eventId, known, used },
        'identity conflict alert held back (min_interval)',
      );
      if (!subject.flush) {
        subject.flush = setTimeout(
          () => this.flush(key),
          subject.lastSentAt + settings.min_interval - this.now,
        );
        subject.flush.unref();
      }
      return;
    }
    const links = info.conflict.links.map((link) => ({ label: this.text(link.label), url: link.url }));
    this.send(key, 'conflict', undefined, {
      reason: `Two ${info.connector} records for one person`,
      lines: [
        `Event ${info.eventId} (delivery ${info.deliveryId}) to "${info.connector}": ${identifier} is on ${used}, but this person's earlier events went to ${known}. Delivered to ${used}; nothing was merged.`,
        ...links.map((link) => `${link.label}: ${link.url}`),
        'If they are one person, merge them in the CRM: leadrelay follows the merge.',
      ],
      ids: { event_id: info.eventId, delivery_id: info.deliveryId, identifier, known, used, links },
      command: `leadrelay events show ${info.eventId}`,
    });
  }

  /**
   * A source's payloads changed (src/drift): sent at once, at most one per
   * source per `min_interval` (the drift watch itself raises each warning
   * once, while it lasts).
   */
  sourceDrift(info: { source: string; warnings: string[] }): void {
    const settings = this.settings();
    if (!settings || this.closed) return;
    const subject = this.subject(`source:${info.source}`);
    if (subject.lastSentAt !== undefined && this.now - subject.lastSentAt < settings.min_interval) {
      this.options.metrics?.alert(`source:${info.source}`, 'drift', 'suppressed');
      this.options.logger.warn(
        { source: info.source, warnings: info.warnings },
        'drift alert held back (min_interval)',
      );
      return;
    }
    this.send(`source:${info.source}`, 'drift', undefined, {
      reason: `What ${info.source} sends has changed`,
      lines: info.warnings,
      ids: { source: info.source },
      command: `leadrelay sources`,
    });
  }

  /** Stops the flush timers and waits (bounded) for alerts being sent. */
  async close(timeoutMs = 5_000): Promise<void> {
    this.closed = true;
    for (const subject of this.subjects.values()) clearTimeout(subject.flush);
    const deadline = new Promise((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([Promise.allSettled([...this.sending]), deadline]);
  }

  private isAlertConnector(connector: string, error: string): boolean {
    if (connector !== this.settings()?.to) return false;
    this.options.logger.error(
      { connector, error: this.text(error) },
      'the alert connector itself is failing; not alerting through it',
    );
    return true;
  }

  private subject(connector: string): Subject {
    let subject = this.subjects.get(connector);
    if (!subject) {
      subject = {
        lastSentAt: undefined,
        suppressed: { dead: 0, failing: 0, conflict: 0, lastError: undefined },
        flush: undefined,
        failingAlerted: undefined,
      };
      this.subjects.set(connector, subject);
    }
    return subject;
  }

  private raise(connector: string, kind: 'dead' | 'failing', error: string, content: AlertContent): void {
    const settings = this.settings();
    if (!settings || this.closed) return;
    const subject = this.subject(connector);
    const now = this.now;
    if (subject.lastSentAt !== undefined && now - subject.lastSentAt < settings.min_interval) {
      subject.suppressed[kind]++;
      subject.suppressed.lastError = error;
      this.options.metrics?.alert(connector, kind, 'suppressed');
      this.options.logger.warn(
        { connector, kind, error: this.text(error) },
        'alert held back (min_interval)',
      );
      if (!subject.flush) {
        subject.flush = setTimeout(
          () => this.flush(connector),
          subject.lastSentAt + settings.min_interval - now,
        );
        subject.flush.unref();
      }
      return;
    }
    this.send(connector, kind, error, content);
  }

  /** At the end of the interval, the alerts held back go out as one. */
  private flush(connector: string): void {
    const subject = this.subject(connector);
    subject.flush = undefined;
    const { dead, failing, conflict, lastError } = subject.suppressed;
    if (dead + failing + conflict === 0 || this.closed) return;
    if (conflict > 0) {
      const name = connector.slice('conflict:'.length);
      this.send(connector, 'conflict', undefined, {
        reason: `More records for one person in ${name}`,
        lines: [],
        ids: {},
        command: `leadrelay deliveries list --connector ${name}`,
      });
      return;
    }
    this.send(connector, dead > 0 ? 'dead' : 'failing', lastError, {
      reason: `More failures delivering to ${connector}`,
      lines: [],
      ids: {},
    });
  }

  private send(connector: string, kind: AlertKind, error: string | undefined, content: AlertContent): void {
    const settings = this.settings();
    if (!settings) return;
    const target = this.options.config().connectors.get(settings.to);
    const subject = this.subject(connector);
    // Conflicts are held back apart from the connector's dead and failing alerts, under their own subject.
    const about = kind === 'conflict' ? connector.slice('conflict:'.length) : connector;
    const { dead, failing, conflict } = subject.suppressed;
    const since = subject.lastSentAt;
    subject.lastSentAt = this.now;
    subject.suppressed = { dead: 0, failing: 0, conflict: 0, lastError: undefined };
    clearTimeout(subject.flush);
    subject.flush = undefined;

    const command = content.command ?? `leadrelay deliveries retry --dead --connector ${connector}`;
    const lines = [...content.lines];
    if (error !== undefined) lines.push(`Error: ${this.text(error)}`);
    const heldSince = since === undefined ? 'the last alert' : new Date(since).toISOString();
    if (dead + failing > 0)
      lines.push(`Held back since ${heldSince}: ${dead} more dead deliveries, ${failing} failing alerts.`);
    if (conflict > 0)
      lines.push(
        `Held back since ${heldSince}: ${conflict} more deliveries that found a second record for one person (each delivery's result names both).`,
      );
    if (kind === 'drift') lines.push(`See: ${command} (or the admin page's Sources)`);
    else if (kind === 'conflict') lines.push(`See: ${command} (or the delivery on the admin page)`);
    else if (kind !== 'recovered') lines.push(`Fix the cause, then run: ${command}`);
    if (settings.admin_url) lines.push(`Admin: ${settings.admin_url}`);
    const summary = lines.join('\n');

    if (!target) {
      this.options.logger.error(
        { connector: about, alert_to: settings.to, alert: summary },
        'alert connector not configured',
      );
      return;
    }
    const id = newId('alert', this.now);
    const event = {
      id,
      type: 'conversation.escalated',
      occurred_at: new Date(this.now).toISOString(),
      contact: { name: `leadrelay · ${about}` },
      conversation: {
        id,
        channel: 'leadrelay-ops',
        ...(settings.admin_url ? { url: settings.admin_url } : {}),
        messages: [],
      },
      escalation: {
        reason: content.reason,
        priority: kind === 'recovered' ? 'low' : kind === 'conflict' ? 'normal' : 'high',
        summary,
      },
      metadata: {
        leadrelay_alert: {
          kind,
          connector: about,
          ...content.ids,
          ...(error !== undefined ? { error: this.text(error) } : {}),
          suppressed: { dead, failing, ...(conflict > 0 ? { conflict } : {}) },
          ...(kind !== 'recovered' ? { command } : {}),
          ...(settings.admin_url ? { admin_url: settings.admin_url } : {}),
        },
      },
    };
    const context: DeliveryContext = {
      event,
      eventId: id,
      deliveryId: 0,
      source: 'leadrelay-alerts',
      receivedAt: this.now,
      attempt: 1,
      related: {},
    };
    const sending = target
      .deliver(context)
      .then(
        () => {
          this.options.metrics?.alert(about, kind, 'sent');
          this.options.logger.info(
            { connector: about, alert_to: settings.to, kind, alert_id: id },
            'ops alert sent',
          );
        },
        (failure: unknown) => {
          this.options.metrics?.alert(about, kind, 'failed');
          this.options.logger.error(
            { connector: about, alert_to: settings.to, kind, err: failure, alert: summary },
            'could not send ops alert',
          );
        },
      )
      .finally(() => this.sending.delete(sending));
    this.sending.add(sending);
  }

  private text(error: string): string {
    return this.options.pii ? error : scrubText(error);
  }
}

interface AlertContent {
  reason: string;
  lines: string[];
  ids: Record<string, unknown>;
  /** What to run about it; by default the retry of the connector's dead deliveries. */
  command?: string;
}

function minutes(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)}s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}
