import type { SourceReport } from './source-report.ts';

/** One source's report as text: last event, counts, fields that are missing, warnings. */
export function formatSourceReport(report: SourceReport): string {
  const lines = [`── ${report.source} ──`];
  if (report.lastEventAt === null) {
    lines.push('no events yet');
    return lines.join('\n');
  }
  lines.push(`last event: ${new Date(report.lastEventAt).toISOString()}`);
  lines.push(`last ${report.recentSize} events: ${counted(report.counts)}`);
  lines.push(`platform events: ${counted(report.platformEvents)}`);
  const missing = report.fields.filter(
    (field) => field.recent < 1 && (field.earlier > 0 || field.recent > 0),
  );
  if (missing.length > 0) {
    lines.push('fields not in every event (recent / before):');
    for (const field of missing)
      lines.push(
        `  ${field.path}: ${percent(field.recent)} / ${report.earlierSize > 0 ? percent(field.earlier) : '–'}`,
      );
  }
  if (report.shapeChanges.length > 0) {
    lines.push('payload paths that changed (recent / before):');
    for (const shape of report.shapeChanges)
      lines.push(`  ${shape.path} (${shape.type}): ${percent(shape.recent)} / ${percent(shape.earlier)}`);
  }
  if (report.warnings.length === 0) {
    lines.push(
      report.earlierSize < 20
        ? 'drift: not enough history yet to compare (20 events in each of two windows of 50)'
        : 'drift: none',
    );
  } else {
    for (const warning of report.warnings) lines.push(`⚠ ${warning.message}`);
  }
  return lines.join('\n');
}

function counted(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort((a, b) => b[1] - a[1]);
  return entries.length === 0 ? 'none' : entries.map(([name, n]) => `${name} ${n}`).join(', ');
}

function percent(share: number): string {
  return `${Math.round(share * 100)}%`;
}
