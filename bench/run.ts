// `npm run bench [-- --only ingest] [--duration N] [--connections N] [--cpu-prof]`
// Runs each benchmark part, prints its table and writes every figure to
// bench/results/latest.json. Targets that are missed are reported, not
// failed on: numbers from a shared or small machine are a signal, not a gate.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { benchIngest, type IngestResult } from './ingest.ts';
import { formatIngest } from './report.ts';

const PARTS = ['ingest'] as const;
type Part = (typeof PARTS)[number];

const RESULTS_DIR = fileURLToPath(new URL('results/', import.meta.url));

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string', multiple: true },
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '50' },
      'cpu-prof': { type: 'boolean', default: false },
    },
  });
  const durationSeconds = positiveInteger('--duration', values.duration);
  const connections = positiveInteger('--connections', values.connections);
  const parts = (values.only ?? [...PARTS]).map(partName);
  const log = (line: string) => console.error(line); // progress on stderr keeps stdout to the report

  const results: { ingest?: IngestResult } = {};
  for (const part of parts) {
    switch (part) {
      case 'ingest': {
        const cpuProfileDir = values['cpu-prof'] ? `${RESULTS_DIR}profiles` : undefined;
        results.ingest = await benchIngest({ durationSeconds, connections, cpuProfileDir, log });
        console.log(formatIngest(results.ingest, durationSeconds).join('\n'));
        if (cpuProfileDir)
          console.log(`leadrelay CPU profile written to ${relative(process.cwd(), cpuProfileDir)}/`);
        break;
      }
    }
  }

  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = `${RESULTS_DIR}latest.json`;
  const machine = {
    node: process.version,
    platform: process.platform,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model,
  };
  const report = {
    at: new Date().toISOString(),
    machine,
    options: { durationSeconds, connections, parts },
    results,
  };
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nwrote ${relative(process.cwd(), file)}`);
  return 0;
}

function positiveInteger(flag: string, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`${flag} takes a whole number above 0, got "${text}"`);
  return value;
}

function partName(text: string): Part {
  if ((PARTS as readonly string[]).includes(text)) return text as Part;
  throw new Error(`--only takes one of ${PARTS.join(', ')}, got "${text}"`);
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
