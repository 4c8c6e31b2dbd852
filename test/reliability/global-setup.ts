import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clearResults, readResults, renderTable } from './results.ts';

/** Rows a full run records (crash loop, downstream to a webhook, downstream to the CRMs and Slack, hostile, config, locked database, disk full). */
const SCENARIOS = 7;
const DOC = join(import.meta.dirname, '..', '..', 'docs', 'reliability.md');

/** Clears the rows of a previous run; after all files ran, prints the table and writes docs/reliability.md. */
export default function setup(): () => void {
  clearResults();
  const started = Date.now();
  return () => {
    const results = readResults();
    if (results.length === 0) return;
    const table = renderTable(results);
    const seconds = Math.round((Date.now() - started) / 1000);
    console.log(`\nReliability suite (${seconds} s)\n\n${table}\n`);
    // A run of some of the files (vitest run … one.test.ts) prints its rows but keeps the full table.
    if (results.length < SCENARIOS) {
      console.log(`docs/reliability.md not rewritten: ${results.length} of ${SCENARIOS} scenarios ran`);
      return;
    }
    writeFileSync(
      DOC,
      `# Reliability\n\n` +
        'What `npm run test:reliability` (test/reliability/) tried against SPEC §5 and what held, as\n' +
        'written by its last run (the numbers vary a little from run to run; the structure does not).\n' +
        'Each scenario fails the suite when a guarantee does not hold, so a row here means it held.\n\n' +
        `Last run: ${new Date().toISOString().slice(0, 10)}, ${seconds} s on ${process.platform}, Node ${process.version}.\n\n` +
        `${table}\n`,
    );
  };
}
