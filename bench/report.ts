import type { DeliveryResult, OutboxCounts, Percentiles } from './delivery.ts';
import type { IngestResult, ServerRun, Target } from './ingest.ts';

/** Above this share of a core, autocannon rather than the server is what limits a run. */
const CLIENT_BOUND_PERCENT = 90;

/** The ingest part as printed lines: a table, the targets, then the checks. */
export function formatIngest(result: IngestResult, durationSeconds: number): string[] {
  const rows: [string, ServerRun][] = [
    ['bare node:http (pre-signed events, repeating)', result.bare],
    ['leadrelay serve --no-worker (new signed event per request)', result.leadrelay],
    ['leadrelay serve, worker delivering (same load)', result.withWorker],
    ['bare node:http (one fixed request: client ceiling)', result.clientCeiling],
  ];
  const header = ['', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'non-2xx', 'errors', 'client CPU', 'server CPU'];
  const table = [
    header,
    ...rows.map(([label, run]) => [
      label,
      run.requestsPerSecond.toFixed(0),
      String(run.latencyMs.p50),
      String(run.latencyMs.p99),
      String(run.latencyMs.max),
      String(run.non2xx),
      String(run.errors),
      percent(run.clientCpuPercent),
      percent(run.serverCpuPercent),
    ]),
  ];
  const { storage, workerStorage, withWorker } = result;
  const deliveriesPerEvent = storage.eventsInDb ? storage.deliveriesInDb / storage.eventsInDb : 0;
  const signingShare = (result.signingMicrosPerRequest * result.leadrelay.requestsPerSecond) / 1e4;
  const notes: string[] = [];
  if (result.bare.clientCpuPercent >= CLIENT_BOUND_PERCENT) {
    notes.push(
      `note: the bare run was client-bound (autocannon at ${percent(result.bare.clientCpuPercent)} of a core), ` +
        'so the bare figure is a floor and the ratio flatters leadrelay; ' +
        `against the client ceiling it is ${result.ratioToCeiling.toFixed(3)}`,
    );
  }
  if (result.leadrelay.clientCpuPercent >= CLIENT_BOUND_PERCENT) {
    notes.push('note: the leadrelay run was client-bound too; its figures understate leadrelay');
  }
  const acceptedPerSecond = withWorker.requestsPerSecond * deliveriesPerEvent;
  const storedLine = (check: typeof storage) =>
    `stored events: ${check.eventsInDb} in db = ${check.accepted} 2xx + ${check.storedAfterCutoff} ` +
    `in flight when autocannon stopped (of ${check.unansweredAtCutoff} sent but unanswered)  ` +
    (check.ok ? 'OK' : 'MISMATCH');
  return [
    `ingest: ${result.connections} connections, ${durationSeconds} s per run, ` +
      `database.durability: ${result.durability}, SQLite in a temp dir`,
    '',
    ...alignColumns(table),
    '(client CPU: autocannon in this process; server CPU: the server child; 100% = one core)',
    '',
    targetLine('leadrelay ÷ bare req/s', result.targets.ratio, '≥', result.ratio.toFixed(3)),
    targetLine(
      'leadrelay p99 latency',
      result.targets.p99Ms,
      '<',
      `${result.leadrelay.latencyMs.p99} ms`,
      ' ms',
    ),
    targetLine(
      'serve with its worker ÷ --no-worker req/s',
      result.targets.workerRatio,
      '≥',
      result.workerRatio.toFixed(3),
    ),
    targetLine(
      'serve with its worker p99 latency',
      result.targets.workerP99Ms,
      '<',
      `${withWorker.latencyMs.p99} ms`,
      ' ms',
    ),
    `  meanwhile the worker delivered ${withWorker.delivered} requests to the destination ` +
      `(${withWorker.deliveredPerSecond.toFixed(0)}/s, against ${acceptedPerSecond.toFixed(0)} deliveries/s accepted)`,
    ...notes,
    '',
    `status codes: bare ${codes(result.bare)}; --no-worker ${codes(result.leadrelay)}; ` +
      `with worker ${codes(withWorker)}`,
    `--no-worker ${storedLine(storage)}`,
    `  2xx missing from db: ${storage.acceptedButMissing}, stored but refused or unknown: ${storage.unexpected}, ` +
      `deliveries: ${storage.deliveriesInDb} (${deliveriesPerEvent.toFixed(2)} per event)`,
    `with worker ${storedLine(workerStorage)}`,
    `  2xx missing from db: ${workerStorage.acceptedButMissing}, stored but refused or unknown: ${workerStorage.unexpected}`,
    `signing in the parent: ${result.signingMicrosPerRequest.toFixed(1)} µs per request, ` +
      `${percent(signingShare)} of a core at leadrelay's rate`,
  ];
}

/** The delivery part as printed lines: throughput table, latency table, targets, then the checks. */
export function formatDelivery(result: DeliveryResult): string[] {
  const { fill, latency } = result;
  const throughputTable = [
    [
      '',
      'queued',
      'delivered',
      'dupes',
      'missing',
      'events/s',
      'steady/s',
      'first ms',
      'worker CPU',
      'bench CPU',
    ],
    ...result.throughput.map((run) => [
      `leadrelay worker, concurrency ${run.concurrency}${run.concurrencySetting === 'default' ? ' (default)' : ''}`,
      String(run.queued),
      String(run.unique),
      String(run.duplicates),
      String(run.missing),
      run.eventsPerSecond.toFixed(0),
      run.steadyEventsPerSecond.toFixed(0),
      run.firstDeliveryMs.toFixed(0),
      percent(run.workerCpuPercent),
      percent(run.benchCpuPercent),
    ]),
  ];
  const latencyTable = [
    ['', 'n', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'mean ms'],
    latencyRow('202 received → sandbox received', latency.acceptedToReceivedMs),
    latencyRow('POST sent → sandbox received', latency.sentToReceivedMs),
    latencyRow('POST sent → 202 received (ingest)', latency.ingestMs),
    latencyRow('send lag behind schedule', latency.sendLagMs),
  ];
  const notes = result.throughput
    .filter((run) => !run.complete)
    .map(
      (run) =>
        `note: concurrency ${run.concurrency} did not finish: ${run.missing} of ${run.queued} never arrived ` +
        '(timeout or the worker exited); its rate covers the time until it stopped',
    );
  const cpuBound = result.throughput
    .filter((run) => run.workerCpuPercent >= CLIENT_BOUND_PERCENT)
    .map((run) => run.concurrency);
  if (cpuBound.length > 0) {
    notes.push(
      `note: the worker was CPU-bound (≥ ${CLIENT_BOUND_PERCENT}% of a core) at concurrency ${cpuBound.join(', ')}: ` +
        'against a receiver this fast the rate is its per-delivery cost, and more concurrency cannot raise it',
    );
  }
  return [
    `delivery: webhook connector → WebhookSandbox in this process, database.durability: ${result.durability}, ` +
      `poll_interval ${result.pollIntervalMs / 1000} s, one contact per event (no shared ordering keys)`,
    '',
    `throughput: ${fill.events} events queued through leadrelay serve --no-worker ` +
      `(${fill.seconds.toFixed(1)} s, ${fill.eventsPerSecond.toFixed(0)}/s), then drained by leadrelay worker`,
    ...alignColumns(throughputTable),
    '(events/s: "worker started" → last event received; steady/s: first → last delivery; ' +
      'first ms: "worker started" → first delivery)',
    ...result.throughput.map(
      (run) =>
        `  concurrency ${run.concurrency}: worker start-up ${run.startupMs.toFixed(0)} ms, ` +
        `sandbox peak ${run.peakConcurrency} at once, ${run.unknown} unknown ids; outbox after: ${outbox(run.outbox)}`,
    ),
    ...notes,
    '',
    `latency: leadrelay serve (HTTP + worker), ${latency.ratePerSecond} events/s open loop, ` +
      `${latency.warmupSeconds} s warm-up (not counted) + ${latency.steadySeconds} s measured, ` +
      `connector concurrency ${latency.concurrency}`,
    ...alignColumns(latencyTable),
    `  sent ${latency.sent} (measured ${latency.measured}), status codes ${statusList(latency.statusCodes)}` +
      `${latency.errors ? `, errors×${latency.errors}` : ''}; delivered ${latency.delivered}, ` +
      `dupes ${latency.duplicates}, missing ${latency.missing}`,
    `  server CPU ${percent(latency.serverCpuPercent)}, bench CPU ${percent(latency.benchCpuPercent)}, ` +
      `sandbox peak ${latency.peakConcurrency} at once; outbox after: ${outbox(latency.outbox)}`,
    '',
    targetLine(
      '202 → sandbox p50',
      result.targets.p50Ms,
      '<',
      `${ms(result.targets.p50Ms.actual)} ms`,
      ' ms',
    ),
    targetLine(
      '202 → sandbox p99',
      result.targets.p99Ms,
      '<',
      `${ms(result.targets.p99Ms.actual)} ms`,
      ' ms',
    ),
    '(worker CPU / server CPU: the leadrelay child, all threads; bench CPU: this process, sandbox and client; 100% = one core)',
  ];
}

function latencyRow(label: string, p: Percentiles): string[] {
  return [label, String(p.count), ms(p.p50), ms(p.p90), ms(p.p99), ms(p.max), ms(p.average)];
}

function ms(value: number): string {
  return Number.isFinite(value) ? value.toFixed(1) : 'n/a';
}

function statusList(codes: Record<string, number>): string {
  return (
    Object.entries(codes)
      .map(([code, count]) => `${code}×${count}`)
      .join(', ') || 'none'
  );
}

function outbox(counts: OutboxCounts): string {
  const statuses = Object.entries(counts.deliveries).map(([status, count]) => `${status} ${count}`);
  return `${counts.events} events, deliveries ${statuses.join(', ') || 'none'}, ${counts.attempts} attempts`;
}

function targetLine(label: string, target: Target, relation: string, actual: string, unit = ''): string {
  return `${label}: ${actual} (target ${relation} ${target.target}${unit})  ${target.pass ? 'PASS' : 'MISS'}`;
}

function codes(run: ServerRun): string {
  const entries = Object.entries(run.statusCodes).map(([code, count]) => `${code}×${count}`);
  const failures = run.errors ? [`errors×${run.errors} (timeouts ${run.timeouts})`] : [];
  return [...entries, ...failures].join(', ') || 'none';
}

function percent(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(0)}%` : 'n/a';
}

/** Left-aligns the first column and right-aligns the figures. */
function alignColumns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? '').length)));
  return rows.map((row) =>
    row
      .map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!)))
      .join('  ')
      .trimEnd(),
  );
}
