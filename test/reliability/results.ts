import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One row of the reliability table (docs/reliability.md). */
export interface ScenarioResult {
  /** Sort key: the scenario's number in issue 10. */
  order: number;
  scenario: string;
  load: string;
  faults: string;
  accepted: number;
  delivered: number;
  lost: number;
  duplicated: number;
  /** What was checked and held (or not). */
  notes: string;
}

export const RESULTS_DIR = join(
  tmpdir(),
  `leadrelay-reliability-${process.env.LEADRELAY_RELIABILITY_RUN ?? 'run'}`,
);

/** Called by each scenario; the global teardown renders all rows into one table. */
export function record(result: ScenarioResult): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = `${String(result.order * 10).padStart(4, '0')}-${result.scenario.replace(/\W+/g, '-')}.json`;
  writeFileSync(join(RESULTS_DIR, file), JSON.stringify(result));
  console.log(`[reliability] ${result.scenario}: ${JSON.stringify(result)}`);
}

export function clearResults(): void {
  rmSync(RESULTS_DIR, { recursive: true, force: true });
}

export function readResults(): ScenarioResult[] {
  let files: string[] = [];
  try {
    files = readdirSync(RESULTS_DIR).filter((file) => file.endsWith('.json'));
  } catch {
    return [];
  }
  return files
    .sort()
    .map((file) => JSON.parse(readFileSync(join(RESULTS_DIR, file), 'utf8')) as ScenarioResult);
}

const cell = (text: string | number) => String(text).replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function renderTable(results: ScenarioResult[]): string {
  const header =
    '| scenario | load | faults injected | accepted | delivered | lost | duplicated | what held |\n' +
    '| --- | --- | --- | ---: | ---: | ---: | ---: | --- |\n';
  return (
    header +
    results
      .map((r) =>
        [r.scenario, r.load, r.faults, r.accepted, r.delivered, r.lost, r.duplicated, r.notes]
          .map(cell)
          .join(' | '),
      )
      .map((line) => `| ${line} |`)
      .join('\n')
  );
}
