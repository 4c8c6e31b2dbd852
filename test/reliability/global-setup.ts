import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { clearResults, readResults, renderTable } from './results.ts';

/** Rows a full run records (crash loop, downstream to a webhook, downstream to the CRMs and Slack, hostile, config, locked database, disk full). */
const SCENARIOS = 7;
const DOC = join(import.meta.dirname, '..', '..', 'docs', 'reliability.md');
const RESULTS_START = '<!-- results of the last run: written by npm run test:reliability -->';
const RESULTS_END = '<!-- end of results -->';

/** Clears the rows of a previous run; after all files ran, prints the table (and, for `npm run docs:reliability`, writes it into docs/reliability.md). */
export default function setup(): () => void {
  clearResults();
  const started = Date.now();
  return () => {
    const results = readResults();
    if (results.length === 0) return;
    const table = renderTable(results);
    const seconds = Math.round((Date.now() - started) / 1000);
    console.log(`\nReliability suite (${seconds} s)\n\n${table}\n`);
    // Tests leave the tree as they found it: only `npm run docs:reliability` refreshes the doc,
    // and only from a run of every scenario.
    if (process.env.LEADRELAY_WRITE_DOCS !== '1') return;
    if (results.length < SCENARIOS) {
      console.log(`docs/reliability.md not rewritten: ${results.length} of ${SCENARIOS} scenarios ran`);
      return;
    }
    // The run rewrites only its results; what is written by hand around them (the window table) stays.
    const section =
      `${RESULTS_START}\n` +
      `Last run: ${new Date().toISOString().slice(0, 10)}, ${seconds} s on ${process.platform}, Node ${process.version}.\n\n` +
      `${table}\n${RESULTS_END}`;
    const doc = readFileSync(DOC, 'utf8');
    const start = doc.indexOf(RESULTS_START);
    const end = doc.indexOf(RESULTS_END);
    if (start === -1 || end === -1)
      throw new Error(`${DOC} has lost its ${RESULTS_START} … ${RESULTS_END} markers`);
    writeFileSync(DOC, doc.slice(0, start) + section + doc.slice(end + RESULTS_END.length));
  };
}
