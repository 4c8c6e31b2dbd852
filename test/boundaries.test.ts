import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { tempDir } from './helpers/temp-dir.ts';

// The import rules of docs/architecture.md live in biome.json and run with
// `npm run lint`. Each case writes a file that breaks one rule into a copy of
// the tree's layout (never into the repository) and runs biome with the
// project's own configuration on it: the rule must name the file.

const REPO = join(import.meta.dirname, '..');
const BIOME = join(REPO, 'node_modules', '@biomejs', 'biome', 'bin', 'biome');
const cleanups = cleanupsAfter('each');

async function lint(files: Record<string, string>): Promise<string> {
  const dir = tempDir('leadrelay-boundaries-');
  cleanups.push(dir.cleanup);
  const config = JSON.parse(readFileSync(join(REPO, 'biome.json'), 'utf8'));
  config.$schema = undefined;
  config.vcs = { enabled: false };
  writeFileSync(join(dir.path, 'biome.json'), JSON.stringify(config));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir.path, path)), { recursive: true });
    writeFileSync(join(dir.path, path), text);
  }
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIOME, 'lint', '--max-diagnostics=50', '.'],
      { cwd: dir.path },
      (_error, stdout, stderr) => resolve(`${stdout}${stderr}`),
    );
  });
}

const cases: [string, Record<string, string>, RegExp][] = [
  [
    'a connector imports the store',
    {
      'connectors/acme/index.ts':
        "import { openDatabase } from '../../src/db/open-database.ts';\nvoid openDatabase;\n",
    },
    /connectors\/acme\/index\.ts.*noRestrictedImports[\s\S]*knows nothing of the store/,
  ],
  [
    'a connector imports HTTP serving',
    { 'connectors/acme/index.ts': "import { createApp } from '../../src/http/app.ts';\nvoid createApp;\n" },
    /connectors\/acme\/index\.ts.*noRestrictedImports/,
  ],
  [
    'a connector imports the CLI',
    { 'connectors/acme/index.ts': "import { main } from '../../src/cli/main.ts';\nvoid main;\n" },
    /connectors\/acme\/index\.ts.*noRestrictedImports/,
  ],
  [
    'a connector imports another connector',
    {
      'connectors/slack/index.ts':
        "import { hubspotConnector } from '../hubspot/index.ts';\nvoid hubspotConnector;\n",
    },
    /does not import another connector/,
  ],
  [
    'the store imports ingest',
    {
      'src/db/sqlite/x.ts':
        "import { receiveEvent } from '../../ingest/receive-event.ts';\nvoid receiveEvent;\n",
    },
    /the store knows nothing of connectors, HTTP, ingest or the CLI/,
  ],
  [
    'the store imports a connector',
    { 'src/db/x.ts': "import { registry } from '../../connectors/registry.ts';\nvoid registry;\n" },
    /the store knows nothing/,
  ],
  [
    'ingest imports connectors',
    {
      'src/ingest/x.ts': "import { builtInTypes } from '../../connectors/registry.ts';\nvoid builtInTypes;\n",
    },
    /ingest hands events to the outbox/,
  ],
  [
    'product code imports a sandbox',
    {
      'src/outbox/x.ts':
        "import { HubSpotSandbox } from '../../sandboxes/hubspot/index.ts';\nvoid HubSpotSandbox;\n",
    },
    /product code never loads the sandboxes/,
  ],
  [
    'HTTP serving imports the CLI',
    { 'src/http/x.ts': "import { main } from '../cli/main.ts';\nvoid main;\n" },
    /HTTP serving does not import the CLI/,
  ],
  [
    'two modules import each other (a cycle)',
    {
      'src/util/a.ts': "import { b } from './b.ts';\nexport const a = () => b();\n",
      'src/util/b.ts': "import { a } from './a.ts';\nexport const b = () => a();\n",
    },
    /noImportCycles/,
  ],
];

describe('npm run lint enforces the architecture', () => {
  for (const [rule, files, diagnostic] of cases) {
    it(`fails when ${rule}`, async () => {
      expect(await lint(files)).toMatch(diagnostic);
    });
  }

  it('passes the demo importing the sandboxes, and a connector importing its own folder and src/mapping', async () => {
    const output = await lint({
      'src/demo/x.ts':
        "import { HubSpotSandbox } from '../../sandboxes/hubspot/index.ts';\nvoid HubSpotSandbox;\n",
      'connectors/acme/index.ts':
        "import { renderFields } from '../../src/mapping/template.ts';\nimport { x } from './x.ts';\nvoid renderFields;\nvoid x;\n",
      'connectors/acme/x.ts': 'export const x = 1;\n',
    });
    expect(output).not.toMatch(/noRestrictedImports|noImportCycles/);
  });
});
