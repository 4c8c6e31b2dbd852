import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { runCli } from './helpers/cli.ts';
import { newSecret, startTestService, type TestService } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';

const ROOT = join(import.meta.dirname, '..');

describe('leadrelay tells how it is used', () => {
  it('--version prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const result = await runCli(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(`leadrelay ${version}`);
  });

  it.each([
    [['deliveries', '--help'], 'Usage: leadrelay deliveries list'],
    [['events', 'list', '--help'], 'Usage: leadrelay events list [--email ADDRESS]'],
    [['help', 'send-test'], 'Usage: leadrelay send-test'],
    [['serve', '-h'], 'Usage: leadrelay serve [--no-worker]'],
  ])('%j prints that command’s usage and exits 0', async (args, usage) => {
    const result = await runCli(args);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(usage);
  });

  it('an unknown option is named in our words, followed by the command’s usage (not Node’s parseArgs text)', async () => {
    const result = await runCli(['deliveries', 'list', '--stauts', 'dead']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^leadrelay deliveries: unknown option --stauts\n\nUsage: leadrelay deliveries list/,
    );
    expect(result.stderr).not.toContain('positional');
  });

  it('an option without its value says which option needs one', async () => {
    const result = await runCli(['deliveries', 'list', '--status']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^leadrelay deliveries: option --status needs a value\n/);
  });
});

describe('leadrelay events list and --connector checks', () => {
  let service: TestService;
  const secret = newSecret();

  beforeAll(async () => {
    service = await startTestService({
      sources: { 'website-bot': { verify: { secrets: [secret] } } },
      routes: [{ on: '*', to: ['hubspot'] }],
    });
    for (const email of ['dana@acme.example', 'lee@other.example', 'Dana@Acme.example']) {
      const event = leadEvent({ contact: { email, name: 'A Lead' } });
      const body = JSON.stringify(event);
      const response = await service.post(
        'website-bot',
        body,
        officialHeaders(secret, String(event.id), body),
      );
      expect(response.status).toBe(202);
    }
  });
  afterAll(() => service.close());

  it('finds a person’s events by email, whatever its case, newest first', async () => {
    const result = await runCli([
      'events',
      'list',
      '--email',
      'DANA@acme.example',
      '--config',
      service.configFile,
    ]);
    expect(result.code, result.stderr).toBe(0);
    const rows = result.stdout.trim().split('\n').slice(2);
    expect(rows).toHaveLength(2);
    expect(rows.every((row) => row.includes('dana@acme.example'))).toBe(true);
    const json = await runCli(['events', 'list', '--json', '--config', service.configFile]);
    const events = JSON.parse(json.stdout) as { contactEmail: string; receivedAt: number }[];
    expect(events.map((event) => event.contactEmail)).toEqual([
      'dana@acme.example',
      'lee@other.example',
      'dana@acme.example',
    ]);
  });

  it('--since takes an age or a date, and refuses anything else', async () => {
    const recent = await runCli([
      'events',
      'list',
      '--since',
      '1h',
      '--json',
      '--config',
      service.configFile,
    ]);
    expect(JSON.parse(recent.stdout)).toHaveLength(3);
    const future = await runCli(['events', 'list', '--since', '2999-01-01', '--config', service.configFile]);
    expect(future.stdout.trim()).toBe('No events match.');
    const bad = await runCli(['events', 'list', '--since', 'lately', '--config', service.configFile]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--since takes an age (30m, 2h, 7d) or a date (2026-11-30), not "lately"');
  });

  it('a connector name that exists neither in connectors/ nor in the outbox is refused with a suggestion', async () => {
    const result = await runCli([
      'deliveries',
      'list',
      '--connector',
      'hubspt',
      '--config',
      service.configFile,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('no connector named "hubspt"; did you mean "hubspot"?');
    const retry = await runCli([
      'deliveries',
      'retry',
      '--dead',
      '--connector',
      'nosuch',
      '--config',
      service.configFile,
    ]);
    expect(retry.code).toBe(1);
    expect(retry.stderr.trim()).toBe('no connector named "nosuch"; known: hubspot');
    const known = await runCli([
      'deliveries',
      'list',
      '--connector',
      'hubspot',
      '--config',
      service.configFile,
    ]);
    expect(known.code).toBe(0);
    expect(known.stdout.trim().split('\n').slice(2)).toHaveLength(3);
  });

  it('identities show finds a person by email, phone or conversation id and lists every identifier of each record', async () => {
    const { recordIdentities } = await import('../src/identity/record-identities.ts');
    await recordIdentities(
      service.store.db,
      {
        connector: 'hubspot',
        identifiers: ['conversation:website-bot:conv_same_visitor', 'phone:+14155550142'],
        record: 'contact:101',
        eventId: 'ev_1',
      },
      1_000,
    );
    await recordIdentities(
      service.store.db,
      {
        connector: 'hubspot',
        identifiers: ['email:dana@acme.example'],
        record: 'contact:101',
        eventId: 'ev_2',
      },
      2_000,
    );
    for (const asked of ['Dana@Acme.example', '+1 (415) 555-0142', 'conv_same_visitor']) {
      const result = await runCli(['identities', 'show', asked, '--config', service.configFile]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.split('\n').map((line) => line.replace(/\s+\(last by.*$/, ''))).toEqual([
        'hubspot → contact:101',
        '  conversation:website-bot:conv_same_visitor',
        '  email:dana@acme.example',
        '  phone:+14155550142',
        '',
      ]);
    }
    const nobody = await runCli(['identities', 'show', 'lee@other.example', '--config', service.configFile]);
    expect(nobody.stdout.trim()).toBe('No connector has resolved email:lee@other.example to a record yet.');
    const nonsense = await runCli([
      'identities',
      'show',
      'no-such-conversation',
      '--config',
      service.configFile,
    ]);
    expect(nonsense.code).toBe(1);
  });

  it('leadrelay backup FILE writes a copy the events can be read from, and will not overwrite it', async () => {
    const copy = join(service.dir, 'copy.sqlite');
    const first = await runCli(['backup', copy, '--config', service.configFile]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain(`wrote ${copy}`);
    const copyConfig = join(service.dir, 'copy.yaml');
    writeFileSync(copyConfig, stringify({ database: { url: `sqlite:${copy}` }, sources: {} }));
    const listed = await runCli(['events', 'list', '--json', '--config', copyConfig]);
    expect(JSON.parse(listed.stdout)).toHaveLength(3);
    const again = await runCli(['backup', copy, '--config', service.configFile]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/--force/);
  });

  it('with the rest of the main file broken, the read-only commands still answer and say so', async () => {
    const broken = join(service.dir, 'broken.yaml');
    writeFileSync(
      broken,
      // A secret whose variable is not set: serve and check refuse the file.
      readFileSync(service.configFile, 'utf8').replace(secret, '${LEADRELAY_TEST_UNSET_SECRET}'),
    );
    expect((await runCli(['check', '--config', broken])).code).toBe(1);
    for (const args of [
      ['events', 'list'],
      ['deliveries', 'list'],
    ]) {
      const result = await runCli([...args, '--config', broken]);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain('lead.qualified');
      expect(result.stderr).toContain(
        `note: ${broken} has 1 problem outside database: (leadrelay check lists them); this command reads only database: and goes on`,
      );
    }
  });
});
