import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../config/load-config.ts';
import { DEMO_SOURCE, writeDemoConfig } from '../../demo/config.ts';
import { demoEvents, VALIDATION_RULE } from '../../demo/events.ts';
import { buildSummary, type DemoSummary, formatSummary, type Posted } from '../../demo/report.ts';
import { type DemoSandboxes, startSandboxes } from '../../demo/sandboxes.ts';
import { signRequest } from '../../ingest/verify/verify-request.ts';
import { type RunningService, startService } from '../../service.ts';
import { createLogger } from '../../util/logger.ts';

export interface DemoOptions {
  /** Stop after the summary instead of serving until SIGINT/SIGTERM. */
  exit?: boolean | undefined;
  /** Also write the summary as JSON to this file. */
  jsonSummary?: string | undefined;
  /** Keep the configuration and database here (default: a temp folder removed at the end). */
  dir?: string | undefined;
  /** Give up waiting for deliveries after this long (default 60 s). */
  timeoutMs?: number | undefined;
  print?: (text: string) => void;
  /** A line that replaces itself on a terminal. */
  progress?: { write(text: string): void; isTTY?: boolean | undefined };
}

/**
 * `leadrelay demo`: local sandbox HubSpot, Salesforce, Slack and a webhook
 * receiver; a configuration pointing at them; leadrelay on SQLite with its
 * worker; a realistic morning of signed chatbot events; a summary of where
 * each landed, cross-checked against the sandboxes. Then it serves (with the
 * admin page) until Ctrl-C, or stops at once with `exit`.
 * Resolves to the exit code: 0, or 2 when deliveries did not settle or the
 * database and the sandboxes disagree.
 */
export async function runDemo(options: DemoOptions = {}): Promise<number> {
  const print = options.print ?? ((text: string) => console.log(text));
  const progress = options.progress ?? process.stdout;
  const started = Date.now();
  const dir = options.dir ? resolve(options.dir) : mkdtempSync(join(tmpdir(), 'leadrelay-demo-'));
  if (options.dir) mkdirSync(dir, { recursive: true });

  // Ctrl-C at any point stops cleanly (a second one exits at once).
  const stop = listenForStop();
  print('leadrelay demo: the whole pipeline on this machine, nothing to sign up for.\n');
  let sandboxes: DemoSandboxes | undefined;
  let service: RunningService | undefined;
  let logger: pino.Logger | undefined;
  try {
    sandboxes = await startSandboxes();
    const files = writeDemoConfig(dir, sandboxes);
    print('Sandboxes (local imitations of the real APIs, on 127.0.0.1):');
    print(`   HubSpot     ${sandboxes.hubspot.url}  (portal ${sandboxes.hubspot.state.portalId})`);
    print(
      `   Salesforce  ${sandboxes.salesforce.url}  (validation rule ${VALIDATION_RULE.name} on Lead.${VALIDATION_RULE.field})`,
    );
    print(
      `   Slack       ${sandboxes.slack.url}  (#sales, #support; text at ${sandboxes.slack.teamUrl}_sandbox/transcript)`,
    );
    print(`   Webhook     ${sandboxes.webhook.url}${sandboxes.webhookPath}  (standing in for n8n / Zapier)`);

    const generatedToken = !process.env.LEADRELAY_ADMIN_TOKEN;
    if (generatedToken) process.env.LEADRELAY_ADMIN_TOKEN = randomBytes(18).toString('base64url');
    const adminToken = process.env.LEADRELAY_ADMIN_TOKEN!;
    // The demo's own files decide the port and the database, not the shell's PORT / DATABASE_URL.
    const env: Record<string, string | undefined> = {
      ...process.env,
      PORT: undefined,
      DATABASE_URL: undefined,
    };
    logger = createLogger({
      level: process.env.LOG_LEVEL ?? 'info',
      destination: pino.destination({ dest: files.logFile, sync: true }),
    });
    const config = await loadConfig(files.main, { env });
    service = await startService({ config, env, logger, watch: false, worker: true });
    print(`\nleadrelay   ${service.url}  (SQLite ${files.dbFile})`);
    print(`   config    ${files.main} and ${join(dir, 'connectors')}/*.yaml`);
    print(`   log       ${files.logFile}`);

    const source = config.main.sources[DEMO_SOURCE]!;
    const run = Date.now().toString(36);
    const scenario = demoEvents(run);
    print(`\nPosting ${scenario.length} signed chatbot events to POST /webhooks/${DEMO_SOURCE}:`);
    const posted: Posted[] = [];
    const firstPost = Date.now();
    for (const [index, demo] of scenario.entries()) {
      if (stop.received) break;
      const body = JSON.stringify(demo.event);
      const response = await fetch(`${service.url}/webhooks/${DEMO_SOURCE}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...signRequest(source.verify, body, String(demo.event.id)),
        },
        body,
      });
      const text = await response.text();
      let answer: { id?: string; deliveries?: number } = {};
      try {
        answer = JSON.parse(text) as typeof answer;
      } catch {}
      posted.push({ demo, httpStatus: response.status, eventId: answer.id ?? '' });
      print(
        `   ${String(index + 1).padStart(2)}. ${String(demo.event.type).padEnd(22)} ${response.status} ${response.status < 300 ? `${answer.deliveries} ${answer.deliveries === 1 ? 'delivery' : 'deliveries'}`.padEnd(14) : text}  ${demo.label}`,
      );
    }

    const eventIds = posted.map((p) => p.eventId).filter((id) => id !== '');
    const settled = await waitForDeliveries(
      service,
      eventIds,
      options.timeoutMs ?? 60_000,
      progress,
      firstPost,
      () => stop.received !== undefined,
    );
    const connectorTypes = new Map([...config.connectors].map(([name, c]) => [name, c.type]));
    const built = await buildSummary(service.store.db, sandboxes, posted, connectorTypes);
    const refused = posted
      .filter((p) => p.httpStatus >= 300)
      .map((p) => `${p.demo.key}: HTTP ${p.httpStatus}`);
    const summary: DemoSummary = {
      ok: settled.done && built.problems.length === 0 && refused.length === 0,
      startedAt: new Date(started).toISOString(),
      settleMs: settled.ms,
      settled: settled.done,
      interrupted: !settled.done && stop.received !== undefined,
      url: service.url,
      adminUrl: `${service.url}/admin/`,
      configFile: files.main,
      ...built,
      problems: [...refused, ...built.problems],
    };
    print(formatSummary(summary));
    const dead = summary.events.flatMap((e) =>
      e.deliveries.filter((d) => d.status === 'dead').map((d) => ({ e, d })),
    );
    if (dead.length > 0) {
      print('\nWhy something went dead');
      for (const { e, d } of dead) {
        print(`   ${e.key} → ${d.connector}: ${d.lastError}`);
      }
      print(
        `   The demo's Salesforce org has an admin's validation rule (${VALIDATION_RULE.name}) that refuses Leads with
   free-mail addresses. Salesforce answers 400 FIELD_CUSTOM_VALIDATION_EXCEPTION: retrying cannot help, so leadrelay
   marks the delivery dead at once, keeps Salesforce's message as its last_error, and carries on with the rest
   (HubSpot took the contact; the #sales alert went out without a Salesforce button). After fixing the data or
   the rule: leadrelay deliveries retry --dead --connector salesforce --config ${files.main}`,
      );
    }
    if (options.jsonSummary) {
      mkdirSync(dirname(resolve(options.jsonSummary)), { recursive: true });
      writeFileSync(options.jsonSummary, `${JSON.stringify(summary, null, 2)}\n`);
      print(`\nSummary as JSON: ${resolve(options.jsonSummary)}`);
    }
    print(`\nTook ${((Date.now() - started) / 1000).toFixed(1)} s.`);

    if (!options.exit && !stop.received) {
      print(`\nleadrelay keeps running at ${service.url}`);
      print(`   admin page  ${service.url}/admin/`);
      print(
        `   admin token ${adminToken}${generatedToken ? '  (generated for this run; set LEADRELAY_ADMIN_TOKEN to choose one)' : '  (from LEADRELAY_ADMIN_TOKEN)'}`,
      );
      print(`   Slack text  ${sandboxes.slack.teamUrl}_sandbox/transcript`);
      print(`   try         npx leadrelay deliveries list --config ${files.main}`);
      print(
        `               npx leadrelay events show ${posted.at(-1)?.eventId ?? 'ID'} --config ${files.main}`,
      );
      print('Press Ctrl-C to stop.');
      await stop.next;
    }
    if (stop.received) print(`\n${stop.received}: stopping.`);
    // Stopped by the user: a clean stop, whatever had been delivered by then.
    return summary.ok || stop.received ? 0 : 2;
  } finally {
    await service?.stop().catch(() => {});
    await sandboxes?.close();
    logger?.flush();
    if (!options.dir) rmSync(dir, { recursive: true, force: true });
    stop.dispose();
  }
}

/** SIGINT / SIGTERM: the first asks for a clean stop, a second one exits at once. */
function listenForStop(): { readonly received: string | undefined; next: Promise<string>; dispose(): void } {
  let received: string | undefined;
  let wake: (signal: string) => void = () => {};
  const next = new Promise<string>((resolveSignal) => {
    wake = resolveSignal;
  });
  const handler = (signal: NodeJS.Signals) => {
    if (received) process.exit(130);
    received = signal;
    wake(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    get received() {
      return received;
    },
    next,
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** Polls the outbox until every delivery of `eventIds` is delivered or dead, showing progress. */
async function waitForDeliveries(
  service: RunningService,
  eventIds: string[],
  timeoutMs: number,
  out: { write(text: string): void; isTTY?: boolean | undefined },
  since: number,
  interrupted: () => boolean,
): Promise<{ done: boolean; ms: number }> {
  const deadline = Date.now() + timeoutMs;
  const tty = out.isTTY === true;
  let lastPrinted = '';
  let lastPrintAt = 0;
  if (!tty) out.write('\nDelivering…\n');
  else out.write('\n');
  while (true) {
    const rows =
      eventIds.length === 0
        ? []
        : await service.store.db
            .selectFrom('deliveries')
            .select(['status', 'connector'])
            .where('event_id', 'in', eventIds)
            .execute();
    const count = (status: string) => rows.filter((r) => r.status === status).length;
    const open = rows.filter((r) => r.status === 'pending' || r.status === 'leased');
    const waitingOn = [...new Set(open.map((r) => r.connector))].join(', ');
    const elapsed = ((Date.now() - since) / 1000).toFixed(1);
    const line = `   ${count('delivered')}/${rows.length} delivered · ${count('dead')} dead · ${open.length} in progress${waitingOn ? ` (${waitingOn})` : ''}`;
    const done = open.length === 0;
    if (tty) out.write(`\r\x1b[2K${line} · ${elapsed} s`);
    else if (
      done ||
      (line !== lastPrinted && Date.now() - lastPrintAt >= 1000) ||
      Date.now() - lastPrintAt >= 3000
    ) {
      out.write(`${line} · ${elapsed} s\n`);
      lastPrinted = line;
      lastPrintAt = Date.now();
    }
    if (done || Date.now() > deadline || interrupted()) {
      if (tty) out.write('\n');
      return { done, ms: Date.now() - since };
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}
