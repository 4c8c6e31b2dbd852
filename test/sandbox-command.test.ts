import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { isDeliveryError } from '../connectors/errors.ts';
import { loadConfig } from '../src/config/load-config.ts';
import { runSandbox, type SandboxCommandOptions } from '../src/demo/sandbox-command.ts';
import { sandboxSetup } from '../src/demo/sandbox-setup.ts';
import { previewEvent } from '../src/preview/preview-event.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { newSecret } from './helpers/harness.ts';
import { leadEvent } from './helpers/sign.ts';
import { tempDir } from './helpers/temp-dir.ts';
import { until } from './helpers/until.ts';

const cleanups = cleanupsAfter('each');
const REPO = join(import.meta.dirname, '..');
const TIME = '\\d\\d:\\d\\d:\\d\\d';

/** `leadrelay sandbox KIND --port 0`, in this process, printing into a list. */
async function startSandboxCommand(kind: string, options: Partial<SandboxCommandOptions> = {}) {
  const lines: string[] = [];
  const controller = new AbortController();
  const exited = runSandbox({
    kind,
    port: 0,
    env: {},
    print: (line) => lines.push(line),
    signal: controller.signal,
    ...options,
  });
  // A start-up failure must fail the test with its own message, not a timeout.
  let failure: unknown;
  exited.catch((error: unknown) => {
    failure = error;
  });
  await until(
    () => failure !== undefined || lines.some((line) => line.startsWith('Requests as they arrive')),
    `the ${kind} sandbox's set-up text`,
  );
  if (failure) throw failure;
  const stop = async () => {
    controller.abort();
    return exited;
  };
  cleanups.push(stop);
  return { lines, stop };
}

/** The indented block the sandbox printed under the line starting with `heading`. */
function printedBlock(lines: string[], heading: string): string {
  const start = lines.findIndex((line) => line.startsWith(heading));
  expect(start, `a line starting with "${heading}" in:\n${lines.join('\n')}`).toBeGreaterThanOrEqual(0);
  const block: string[] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('    ')) break;
    block.push(line.slice(4));
  }
  return block.join('\n');
}

/** The connector file and .env lines exactly as printed, beside a main file routing every event to it. */
async function configAsPrinted(lines: string[], name: string, edit = (yaml: string) => yaml) {
  const dir = tempDir();
  cleanups.push(dir.cleanup);
  const routes = [{ on: '*', to: [name] }];
  writeFileSync(join(dir.path, 'leadrelay.yaml'), stringify({ sources: {}, routes }));
  mkdirSync(join(dir.path, 'connectors'));
  writeFileSync(
    join(dir.path, 'connectors', `${name}.yaml`),
    `${edit(printedBlock(lines, 'To deliver to it, write'))}\n`,
  );
  writeFileSync(join(dir.path, '.env'), `${printedBlock(lines, 'Add to config/.env:')}\n`);
  return loadConfig(join(dir.path, 'leadrelay.yaml'), { env: {} });
}

function deliverOne(config: Awaited<ReturnType<typeof loadConfig>>, name: string, event = leadEvent()) {
  return config.connectors.get(name)!.deliver({
    event: event as never,
    eventId: `ev_sandbox_${Date.now()}`,
    deliveryId: 1,
    source: 'website-bot',
    receivedAt: Date.now(),
    attempt: 1,
    related: {},
  });
}

const dana = () =>
  leadEvent({ contact: { email: 'dana@acme.example', name: 'Dana Reyes', company: 'Acme Corp' } });

/** Waits for a printed line matching `pattern` (the log line comes when the answer has gone out). */
async function printed(lines: string[], pattern: RegExp): Promise<void> {
  await until(
    () => lines.some((line) => pattern.test(line)),
    `a line matching ${pattern} in:\n${lines.join('\n')}`,
  );
}

describe('leadrelay sandbox', () => {
  it('hubspot: the printed connector file and .env reach it, and it logs each request and the contact and note made', async () => {
    const { lines, stop } = await startSandboxCommand('hubspot');
    const config = await configAsPrinted(lines, 'hubspot');
    const result = await deliverOne(config, 'hubspot', dana());
    expect(result.data?.contact_id).toBe('101');

    await printed(lines, new RegExp(`^${TIME} POST /crm/v3/objects/contacts/batch/upsert → 200$`));
    await printed(lines, /^ {4}contact 101 created: dana@acme\.example \(Dana Reyes, Acme Corp\)$/);
    await printed(lines, /^ {4}note \d+ created on contact 101 \([\d,]+ characters\)$/);
    expect(await stop()).toBe(0);
    expect(lines.at(-1)).toBe('Stopped; the sandbox kept nothing.');
  });

  it("hubspot: a refused request is logged with HubSpot's reason", async () => {
    const { lines } = await startSandboxCommand('hubspot');
    const config = await configAsPrinted(
      lines,
      'hubspot',
      (yaml) => `${yaml}\nproperties: { email: "{{ contact.email }}", favorite_color: "blue" }`,
    );
    await expect(deliverOne(config, 'hubspot')).rejects.toThrow(/favorite_color/);
    await printed(lines, new RegExp(`^${TIME} POST /crm/v3/objects/contacts/batch/upsert → (400|207)$`));
    await printed(lines, /^ {4}HubSpot refused: VALIDATION_ERROR: .*favorite_color/);
  });

  it('salesforce: the printed client credentials get a token, and the Lead and its Task are logged', async () => {
    const { lines } = await startSandboxCommand('salesforce');
    const config = await configAsPrinted(lines, 'salesforce');
    const result = await deliverOne(config, 'salesforce', dana());
    expect(result.data?.object).toBe('Lead');

    await printed(lines, new RegExp(`^${TIME} POST /services/oauth2/token → 200$`));
    await printed(lines, new RegExp(`^${TIME} (GET|POST|PATCH) /services/data/v62\\.0/\\S+ → 20\\d$`));
    // The look-up by email is shown, whether it went alone or inside a /composite call.
    await printed(lines, /^ {4}(↳ GET query → 200: )?SELECT .* FROM Lead WHERE .*dana@acme\.example/);
    const leadId = String(result.data?.id);
    await printed(
      lines,
      new RegExp(`^ {4}Lead ${leadId} created: dana@acme\\.example \\(Dana Reyes, Acme Corp\\)$`),
    );
    await printed(lines, new RegExp(`^ {4}Task 00T\\w+ created: on ${leadId}: Chatbot conversation`));
  });

  it("salesforce: a field the org does not have is logged with Salesforce's errorCode", async () => {
    const { lines } = await startSandboxCommand('salesforce');
    const config = await configAsPrinted(
      lines,
      'salesforce',
      (yaml) =>
        `${yaml}\nfields: { Lead: { LastName: "{{ contact.name }}", Email: "{{ contact.email }}", Favorite_Color__c: blue } }`,
    );
    await expect(deliverOne(config, 'salesforce')).rejects.toThrow(/Favorite_Color__c/);
    await printed(lines, /^ {4}Salesforce refused: INVALID_FIELD: .*Favorite_Color__c/);
  });

  it('slack: the printed token and API URL post to #sales, and the message is logged as text', async () => {
    const { lines } = await startSandboxCommand('slack');
    const config = await configAsPrinted(lines, 'slack');
    await deliverOne(config, 'slack', dana());

    await printed(lines, new RegExp(`^${TIME} POST /api/chat\\.postMessage → 200$`));
    await printed(lines, /^ {4}#sales · /);
    await printed(lines, /^ {4}.*New qualified lead: Dana Reyes/);
  });

  it("slack: a channel the workspace does not have is logged with Slack's error code", async () => {
    const { lines } = await startSandboxCommand('slack');
    const config = await configAsPrinted(lines, 'slack', (yaml) => yaml.replace('"#sales"', '"#nope"'));
    await expect(deliverOne(config, 'slack')).rejects.toThrow(/channel_not_found|#nope/);
    await printed(lines, new RegExp(`^${TIME} POST /api/chat\\.postMessage → 200$`));
    await printed(lines, /^ {4}Slack refused: channel_not_found$/);
  });

  it('webhook: the example forward connector, with the printed .env lines, delivers to it and the signature verifies', async () => {
    const secret = newSecret();
    const { lines } = await startSandboxCommand('webhook', { secret });
    expect(printedBlock(lines, 'The example connector config/connectors/forward.yaml')).toBe(
      [
        'type: webhook',
        'url: "${FORWARD_URL:-http://127.0.0.1:8088/leadrelay}"',
        'secret: "${FORWARD_SECRET:-}"',
      ].join('\n'),
    );
    const config = await exampleConfig(printedBlock(lines, 'Add to config/.env:'));
    await deliverOne(config, 'forward', dana());

    await printed(lines, new RegExp(`^${TIME} POST /leadrelay → 200$`));
    await printed(lines, /^ {4}lead\.qualified ev_sandbox_\d+ · signature verified$/);
  });

  it('webhook: a request signed with another secret is answered 401 and logged as not verified', async () => {
    const { lines } = await startSandboxCommand('webhook', { secret: newSecret() });
    const config = await exampleConfig(
      `${printedBlock(lines, 'Add to config/.env:').replace(/^FORWARD_SECRET=.*$/m, '')}\nFORWARD_SECRET=${newSecret()}`,
    );
    const failure = await deliverOne(config, 'forward').catch((error: unknown) => error);
    expect(isDeliveryError(failure)).toBe(true);
    await printed(lines, new RegExp(`^${TIME} POST /leadrelay → 401$`));
    await printed(
      lines,
      /^ {4}lead\.qualified ev_\S+ · signature did NOT verify with --secret \(answered 401\)$/,
    );
  });

  it('webhook: without --secret it takes the example connector as it is (unsigned) and says signatures are not checked', async () => {
    const { lines } = await startSandboxCommand('webhook');
    expect(lines).toContain(
      'Signatures are not checked: start it with --secret whsec_… (the FORWARD_SECRET you use) to check them.',
    );
    const config = await exampleConfig(printedBlock(lines, 'Add to config/.env:'));
    await deliverOne(config, 'forward');
    await printed(lines, /^ {4}lead\.qualified ev_\S+ · unsigned$/);
  });

  it('webhook: on its default port the example forward connector needs no change at all', async () => {
    // Port 8088 may be taken on a shared machine, so this checks the two halves meet without binding it.
    const setup = sandboxSetup({ kind: 'webhook', origin: 'http://127.0.0.1:8088' });
    expect(setup.env).toEqual([]);
    const config = await exampleConfig('');
    const [entry] = previewEvent(config, dana());
    expect(entry!.connector).toBe('forward');
    expect(entry!.requests[0]!.url).toBe('http://127.0.0.1:8088/leadrelay');
  });

  it('refuses an unknown kind with the nearest one, --secret off the webhook, and a host other than loopback', async () => {
    await expect(runSandbox({ kind: 'hubspto' })).rejects.toThrow(
      /no sandbox "hubspto"; did you mean "hubspot"\?/,
    );
    await expect(runSandbox({ kind: 'slack', secret: newSecret() })).rejects.toThrow(
      /--secret is for the webhook/,
    );
    await expect(runSandbox({ kind: 'webhook', secret: 'hunter2' })).rejects.toThrow(/whsec_/);
    await expect(runSandbox({ kind: 'webhook', host: '0.0.0.0' })).rejects.toThrow(/127\.0\.0\.1 only/);
    await expect(runSandbox({ kind: 'webhook', port: 'eighty' })).rejects.toThrow(
      /--port must be a port number/,
    );
  });

  it('says which address is in use when its port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => blocker.close(resolve)));
    const port = (blocker.address() as { port: number }).port;
    await expect(runSandbox({ kind: 'hubspot', port, print: () => {} })).rejects.toThrow(
      `cannot listen on 127.0.0.1:${port}: the address is already in use`,
    );
  });

  it('in its own process, runs until SIGTERM (as Ctrl-C stops it) and then exits 0', async () => {
    const code = `import { runSandbox } from ${JSON.stringify(join(REPO, 'src/demo/sandbox-command.ts'))};
      process.exitCode = await runSandbox({ kind: 'webhook', port: 0 });`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: REPO,
    });
    cleanups.push(() => child.exitCode === null && child.kill('SIGKILL'));
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await until(
      () => stdout.includes('Requests as they arrive') || child.exitCode !== null,
      'the sandbox to start',
    );
    const url = /Webhook receiver on (\S+)/.exec(stdout)![1]!;
    expect((await fetch(url, { method: 'POST', body: '{"type":"lead.qualified"}' })).status).toBe(200);
    await until(() => stdout.includes('POST /leadrelay → 200'), 'the request line');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toContain('Stopped; the sandbox kept nothing.');
  });

  it('stops listening when stopped', async () => {
    const { lines, stop } = await startSandboxCommand('webhook');
    const url = /Webhook receiver on (\S+)/.exec(lines[0]!)![1]!;
    expect((await fetch(url, { method: 'POST', body: '{}' })).status).toBe(200);
    expect(await stop()).toBe(0);
    await expect(fetch(url, { method: 'POST', body: '{}' })).rejects.toThrow();
  });
});

/** The repository's example configuration as a newcomer copies it, with `.env` from the example plus `envLines`. */
async function exampleConfig(envLines: string) {
  const dir = tempDir();
  cleanups.push(dir.cleanup);
  mkdirSync(join(dir.path, 'connectors'));
  copyFileSync(join(REPO, 'config/leadrelay.yaml'), join(dir.path, 'leadrelay.yaml'));
  copyFileSync(join(REPO, 'config/connectors/forward.yaml'), join(dir.path, 'connectors/forward.yaml'));
  const example = readFileSync(join(REPO, 'config/.env.example'), 'utf8');
  writeFileSync(join(dir.path, '.env'), `${example}\n${envLines}\n`);
  return loadConfig(join(dir.path, 'leadrelay.yaml'), { env: {} });
}
