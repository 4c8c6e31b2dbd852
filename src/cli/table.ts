/**
 * A plain-text table: a header row and columns padded to their widest cell,
 * long cells cut with an ellipsis so one row stays one line.
 *
 * @example
 * formatTable(['id', 'status'], [[1, 'dead']])
 */
export function formatTable(
  headers: string[],
  rows: (string | number | null | undefined)[][],
  maxCell = 60,
): string {
  // The last column (usually an error message) is never cut: it has the rest of the line.
  const last = headers.length - 1;
  const cells = rows.map((row) =>
    row.map((cell, i) =>
      clip(cell == null ? '' : String(cell), i === last ? Number.POSITIVE_INFINITY : maxCell),
    ),
  );
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...cells.map((row) => row[i]?.length ?? 0)),
  );
  const line = (row: string[]) =>
    row
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

function clip(text: string, max: number): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

/** `2026-11-25 10:04:00` in UTC, or `-`. */
export function formatTime(ms: number | null | undefined): string {
  if (!ms) return '-';
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}
