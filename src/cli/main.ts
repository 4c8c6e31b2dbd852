import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/config-error.ts';
import { configPath } from '../config/config-path.ts';
import { COMMAND_HELP, HELP, usageErrorText } from './help.ts';
import { UsageError } from './usage-error.ts';

// Each command loads what it needs when it runs, so `--help` and the small
// commands do not pay for the server, the database drivers or the vendor SDKs
// (docs/performance.md, start-up).
const configModule = () => import('../config/load-config.ts');
const storeModule = () => import('../db/open-store.ts');
const previewModule = () => import('../preview/preview-event.ts');

/** Runs one command; resolves to the exit code (0 ok, 1 bad input or config, 2 runtime failure). */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (
    command !== undefined &&
    Object.hasOwn(COMMAND_HELP, command) &&
    (rest.includes('--help') || rest.includes('-h'))
  ) {
    console.log(COMMAND_HELP[command]);
    return 0;
  }
  try {
    switch (command) {
      case 'serve':
        return await serve(rest);
      case 'worker':
        return await serve(rest, 'worker');
      case 'migrate':
        return await migrate(rest);
      case 'send-test':
        return await runSendTest(rest);
      case 'check':
        return await check(rest);
      case 'preview':
        return await preview(rest);
      case 'schema':
        return await schema(rest);
      case 'sources':
        return await sources(rest);
      case 'deliveries':
        return await deliveries(rest);
      case 'events':
        return await events(rest);
      case 'demo':
        return await demo(rest);
      case 'backup':
        return await backup(rest);
      case 'sandbox':
        return await sandbox(rest);
      case 'identities':
        return await identities(rest);
      case '--version':
      case '-v':
        console.log(await version());
        return 0;
      case 'help':
        if (rest[0] !== undefined && Object.hasOwn(COMMAND_HELP, rest[0])) {
          console.log(COMMAND_HELP[rest[0]]);
          return 0;
        }
        console.log(HELP);
        return 0;
      case undefined:
      case '--help':
      case '-h':
        console.log(HELP);
        return command === undefined ? 1 : 0;
      default:
        throw new UsageError(`unknown command "${command}"\n\n${HELP}`);
    }
  } catch (error) {
    // PreviewError by name: its module is loaded only by preview.
    if (
      error instanceof ConfigError ||
      error instanceof UsageError ||
      (error as Error).name === 'PreviewError'
    ) {
      console.error((error as Error).message);
      return 1;
    }
    if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(usageErrorText(command, error as Error & { code?: string }));
      return 1;
    }
    console.error(`leadrelay: ${(error as Error).message}`);
    return 2;
  }
}

/** The version in leadrelay's package.json (from src/cli or dist/src/cli alike). */
async function version(): Promise<string> {
  const { readFileSync, existsSync } = await import('node:fs');
  for (let dir = import.meta.dirname; dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'leadrelay') return `leadrelay ${pkg.version}`;
  }
  return 'leadrelay (version unknown)';
}

function args<T extends Record<string, { type: 'string' | 'boolean'; short?: string }>>(
  argv: string[],
  options: T,
) {
  return parseArgs({
    args: argv,
    options: { config: { type: 'string' }, ...options },
    allowPositionals: true,
  });
}

async function serve(argv: string[], mode: 'serve' | 'worker' = 'serve'): Promise<number> {
  const { values } = args(argv, { 'no-worker': { type: 'boolean' } });
  const { startService } = await import('../service.ts');
  let service: Awaited<ReturnType<typeof startService>>;
  try {
    service = await startService({
      config: configPath(values.config),
      http: mode === 'serve',
      worker: mode === 'worker' || !values['no-worker'],
      // Beside HTTP, the worker gets a thread of its own (docs/scaling.md, "The worker's thread").
      workerIn: mode === 'serve' ? 'thread' : 'main',
    });
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    // Whatever start-up opened (database, worker timers) would keep the
    // process alive: a supervisor must see a `serve` that cannot listen exit
    // non-zero, not a process that looks healthy and takes no webhooks.
    console.error(
      `leadrelay: ${startFailure(error as Error & { code?: string; address?: string; port?: number })}`,
    );
    process.exit(2);
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      service.logger.info({ signal }, 'shutting down');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await service.stop();
  service.logger.flush();
  return 0;
}

/** Why `serve` could not start, in words an operator can act on. */
function startFailure(error: Error & { code?: string; address?: string; port?: number }): string {
  const where = error.address === undefined ? '' : ` ${error.address}:${error.port}`;
  if (error.code === 'EADDRINUSE')
    return `cannot listen on${where}: the address is already in use (is another leadrelay running? stop it or change server.port)`;
  if (error.code === 'EACCES')
    return `cannot listen on${where}: permission denied (ports below 1024 need privileges; use a higher server.port behind a proxy)`;
  if (error.code === 'EADDRNOTAVAIL')
    return `cannot listen on${where}: no network interface has this address (check server.host)`;
  return error.message;
}

async function backup(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, { force: { type: 'boolean' } });
  if (positionals.length !== 1)
    throw new UsageError(`usage: leadrelay backup FILE [--force]\n\n${COMMAND_HELP.backup}`);
  const { backupDatabase } = await import('./commands/backup.ts');
  return backupDatabase(
    configPath(values.config),
    positionals[0] as string,
    { force: values.force },
    (text) => console.log(text),
  );
}

async function identities(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  const { values, positionals } = args(rest, { json: { type: 'boolean' }, region: { type: 'string' } });
  if (action !== 'show' || positionals.length !== 1)
    throw new UsageError(
      `usage: leadrelay identities show EMAIL|PHONE|CONVERSATION\n\n${COMMAND_HELP.identities}`,
    );
  const { identitiesShow } = await import('./commands/identities.ts');
  return identitiesShow(
    configPath(values.config),
    positionals[0] as string,
    { json: values.json, region: values.region },
    (text) => console.log(text),
  );
}

async function sandbox(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, {
    port: { type: 'string' },
    host: { type: 'string' },
    secret: { type: 'string' },
  });
  if (positionals.length !== 1)
    throw new UsageError(`usage: leadrelay sandbox KIND\n\n${COMMAND_HELP.sandbox}`);
  // Loaded here only: it brings the vendor sandboxes, which serve and worker never load.
  const { runSandbox } = await import('../demo/sandbox-command.ts');
  return runSandbox({
    kind: positionals[0] as string,
    ...(values.port === undefined ? {} : { port: values.port }),
    ...(values.host === undefined ? {} : { host: values.host }),
    ...(values.secret === undefined ? {} : { secret: values.secret }),
  });
}

async function demo(argv: string[]): Promise<number> {
  const { values } = args(argv, {
    exit: { type: 'boolean' },
    'json-summary': { type: 'string' },
    dir: { type: 'string' },
    timeout: { type: 'string' },
  });
  const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
  if (timeout !== undefined && !(timeout > 0)) throw new UsageError('--timeout takes a number of seconds');
  // Loaded here only: the demo brings the vendor sandboxes, which no other command may load.
  const { runDemo } = await import('./commands/demo.ts');
  return runDemo({
    exit: values.exit,
    jsonSummary: values['json-summary'],
    dir: values.dir,
    timeoutMs: timeout === undefined ? undefined : timeout * 1000,
  });
}

async function migrate(argv: string[]): Promise<number> {
  const { values } = args(argv, {});
  const [{ loadConfig }, { openStore }] = await Promise.all([configModule(), storeModule()]);
  const config = await loadConfig(configPath(values.config));
  const { store, applied } = await openStore(config.main.database);
  try {
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
    return 0;
  } finally {
    await store.close();
  }
}

async function runSendTest(argv: string[]): Promise<number> {
  const { values } = args(argv, {
    source: { type: 'string' },
    type: { type: 'string' },
    url: { type: 'string' },
    wait: { type: 'string' },
  });
  const wait = values.wait === undefined ? undefined : Number(values.wait);
  if (wait !== undefined && !(wait >= 0))
    throw new UsageError('--wait takes a number of seconds (0 to skip)');
  const { sendTest } = await import('./commands/send-test.ts');
  const ok = await sendTest({
    configPath: configPath(values.config),
    source: values.source,
    type: values.type,
    url: values.url,
    waitMs: wait === undefined ? undefined : wait * 1000,
    print: (line) => console.log(line),
  });
  return ok ? 0 : 2;
}

async function check(argv: string[]): Promise<number> {
  const { values } = args(argv, {});
  const { loadConfig } = await configModule();
  const config = await loadConfig(configPath(values.config));
  const connectors = [...config.connectors.values()].map((c) => `${c.name} (${c.type})`);
  console.log(`${config.file}: OK`);
  console.log(`  sources:    ${Object.keys(config.main.sources).join(', ') || 'none'}`);
  console.log(`  connectors: ${connectors.join(', ') || 'none'}`);
  console.log(`  routes:     ${config.routes.length}`);
  return 0;
}

async function preview(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, {
    connector: { type: 'string' },
    source: { type: 'string' },
    event: { type: 'string' },
    json: { type: 'boolean' },
  });
  const [eventFile] = positionals;
  const [{ loadConfig }, { formatPreview, mapRawPayload, previewEvent }] = await Promise.all([
    configModule(),
    previewModule(),
  ]);
  if (values.event !== undefined) {
    if (eventFile || values.source) throw new UsageError('preview --event ID takes no file and no --source');
    const config = await loadConfig(configPath(values.config));
    const [{ openStore }, { formatStoredPreview, previewStoredEvent }] = await Promise.all([
      storeModule(),
      import('../preview/preview-stored-event.ts'),
    ]);
    const { store } = await openStore(config.main.database);
    try {
      const result = await previewStoredEvent(config, store.db, values.event);
      console.log(values.json ? JSON.stringify(result, null, 2) : formatStoredPreview(result, formatPreview));
    } finally {
      await store.close();
    }
    return 0;
  }
  if (!eventFile)
    throw new UsageError(
      'usage: leadrelay preview EVENT.json [--source NAME] [--connector NAME] [--json] | preview --event ID',
    );
  const config = await loadConfig(configPath(values.config));
  const { readEventFile } = await import('./commands/preview.ts');
  const raw = readEventFile(eventFile);
  const mapped = values.source ? mapRawPayload(config, values.source, raw) : undefined;
  const entries = previewEvent(config, mapped ?? raw, {
    connector: values.connector,
    source: values.source,
  });
  if (!mapped) {
    console.log(values.json ? JSON.stringify(entries, null, 2) : formatPreview(entries));
  } else if (values.json) {
    console.log(JSON.stringify({ event: mapped, connectors: entries }, null, 2));
  } else {
    console.log(`── canonical event (source ${values.source}) ──\n${JSON.stringify(mapped, null, 2)}\n`);
    console.log(formatPreview(entries));
  }
  return 0;
}

async function sources(argv: string[]): Promise<number> {
  const { values } = args(argv, { json: { type: 'boolean' } });
  const [{ loadConfig }, { openStore }, { sourceReports }, { formatSourceReport }] = await Promise.all([
    configModule(),
    storeModule(),
    import('../drift/drift-watch.ts'),
    import('../drift/format-report.ts'),
  ]);
  const config = await loadConfig(configPath(values.config));
  const { store } = await openStore(config.main.database);
  try {
    const reports = await sourceReports(store.db, Object.keys(config.main.sources));
    console.log(
      values.json
        ? JSON.stringify(reports, null, 2)
        : reports.map(formatSourceReport).join('\n\n') || 'No sources are configured.',
    );
  } finally {
    await store.close();
  }
  return 0;
}

async function schema(argv: string[]): Promise<number> {
  const { values } = args(argv, { out: { type: 'string' } });
  const { writeSchemas } = await import('./commands/schema.ts');
  const out = values.out ?? join(dirname(configPath(values.config)), 'schema');
  for (const file of writeSchemas(out)) console.log(`wrote ${relative(process.cwd(), file)}`);
  return 0;
}

async function deliveries(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  const { values, positionals } = args(rest, {
    status: { type: 'string' },
    connector: { type: 'string' },
    json: { type: 'boolean' },
    dead: { type: 'boolean' },
    limit: { type: 'string' },
  });
  const { deliveriesList, deliveriesRetry } = await import('./commands/outbox-commands.ts');
  const file = configPath(values.config);
  const print = (text: string) => console.log(text);
  if (action === 'list') {
    const limit = positiveCount(values.limit, '--limit');
    return deliveriesList(
      file,
      { status: values.status, connector: values.connector, json: values.json, ...(limit ? { limit } : {}) },
      print,
    );
  }
  if (action === 'retry')
    return deliveriesRetry(file, { ids: positionals, dead: values.dead, connector: values.connector }, print);
  throw new UsageError(`usage: leadrelay deliveries list|retry …\n\n${COMMAND_HELP.deliveries}`);
}

async function events(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  const { values, positionals } = args(rest, {
    json: { type: 'boolean' },
    email: { type: 'string' },
    type: { type: 'string' },
    source: { type: 'string' },
    since: { type: 'string' },
    limit: { type: 'string' },
  });
  const { eventsList, eventsShow, eventsReplay } = await import('./commands/outbox-commands.ts');
  const file = configPath(values.config);
  const print = (text: string) => console.log(text);
  if (action === 'list') {
    if (positionals.length > 0)
      throw new UsageError(`events list takes no ${positionals[0]}; to find a person: --email ADDRESS`);
    return eventsList(
      file,
      {
        email: values.email,
        type: values.type,
        source: values.source,
        since: values.since,
        limit: positiveCount(values.limit, '--limit'),
        json: values.json,
      },
      print,
    );
  }
  const [id] = positionals;
  if (!id || (action !== 'show' && action !== 'replay'))
    throw new UsageError(`usage: leadrelay events list|show ID|replay ID\n\n${COMMAND_HELP.events}`);
  return action === 'show'
    ? eventsShow(file, id, { json: values.json }, print)
    : eventsReplay(file, id, print);
}

/** `--limit 20`: a whole number above zero, or undefined when not given. */
function positiveCount(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  const count = Number(text);
  if (!Number.isInteger(count) || count < 1)
    throw new UsageError(`${option} takes a whole number above 0, not "${text}"`);
  return count;
}
