import type { IngestResult, ServerRun, Target } from './ingest.ts';

/** Above this share of a core, autocannon rather than the server is what limits a run. */
const CLIENT_BOUND_PERCENT = 90;

/** The ingest part as printed lines: a table, the targets, then the checks. */
export function formatIngest(result: IngestResult, durationSeconds: number): string[] {
  const rows: [string, ServerRun][] = [
    ['bare node:http (pre-signed events, repeating)', result.bare],
    ['leadrelay (new signed event per request)', result.leadrelay],
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
  const { storage } = result;
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
    ...notes,
    '',
    `status codes: bare ${codes(result.bare)}; leadrelay ${codes(result.leadrelay)}`,
    `stored events: ${storage.eventsInDb} in db = ${storage.accepted} 2xx + ${storage.storedAfterCutoff} ` +
      `in flight when autocannon stopped (of ${storage.unansweredAtCutoff} sent but unanswered)  ` +
      (storage.ok ? 'OK' : 'MISMATCH'),
    `  2xx missing from db: ${storage.acceptedButMissing}, stored but refused or unknown: ${storage.unexpected}, ` +
      `deliveries: ${storage.deliveriesInDb} (${deliveriesPerEvent.toFixed(2)} per event)`,
    `signing in the parent: ${result.signingMicrosPerRequest.toFixed(1)} µs per request, ` +
      `${percent(signingShare)} of a core at leadrelay's rate`,
  ];
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
