import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startChildServer } from './helpers/child-server.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { describeEachDialect, newSecret, startTestService, writeConnectorFiles } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';
import { tempDir } from './helpers/temp-dir.ts';

const cleanups = cleanupsAfter('each');

describeEachDialect('idempotency under concurrency', () => {
  it('stores exactly one event when 20 POSTs of the same event id arrive at once', async () => {
    const secret = newSecret();
    const service = await startTestService({
      sources: { site: { verify: { secrets: [secret] } } },
      routes: [{ on: 'lead.qualified', to: ['hubspot', 'salesforce'] }],
    });
    cleanups.push(() => service.close());
    const event = leadEvent();
    // Each copy differs in content and signature time: only the id makes them the same event.
    const responses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => {
        const body = JSON.stringify({ ...event, metadata: { copy: i } });
        return service.post(
          'site',
          body,
          officialHeaders(secret, String(event.id), body, new Date(Date.now() - i * 1000)),
        );
      }),
    );
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 202)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(19);
    expect(new Set(responses.map((r) => r.json.id)).size).toBe(1);
    expect(responses.every((r) => r.json.deliveries === 2)).toBe(true);
    expect(await service.count('events')).toBe(1);
    expect(await service.count('deliveries')).toBe(2);
  });
});

describe('crash safety', () => {
  it('keeps every event answered 2xx, with all its deliveries, when the server is SIGKILLed mid-traffic', async () => {
    const dir = tempDir();
    cleanups.push(dir.cleanup);
    const secret = newSecret();
    const dbFile = join(dir.path, 'leadrelay.db');
    const configFile = join(dir.path, 'leadrelay.yaml');
    writeFileSync(
      configFile,
      stringify({
        server: { host: '127.0.0.1' },
        database: { url: `sqlite:${dbFile}`, durability: 'full' },
        sources: { site: { verify: { secrets: [secret] } } },
        routes: [{ on: 'lead.qualified', to: ['hubspot', 'salesforce', 'slack-sales'] }],
      }),
    );
    writeConnectorFiles(dir.path, { routes: [{ to: ['hubspot', 'salesforce', 'slack-sales'] }] }, {});
    const server = await startChildServer(configFile);
    cleanups.push(() => server.child.kill('SIGKILL'));

    const accepted = new Map<string, string>(); // external id → leadrelay id
    const refused: string[] = [];
    let sent = 0;
    let stop = false;
    const client = async (worker: number) => {
      while (!stop) {
        sent++;
        // One request in five is invalid: it must be answered 4xx and leave no trace.
        const invalid = sent % 5 === 0;
        const event = invalid ? { id: `bad_${worker}_${sent}`, type: 'lead.qualified' } : leadEvent();
        const body = JSON.stringify(event);
        try {
          const response = await fetch(`${server.url}/webhooks/site`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              ...officialHeaders(secret, String(event.id), body),
            },
            body,
          });
          const json = (await response.json()) as { id?: string };
          if (response.status === 202 || response.status === 200)
            accepted.set(String(event.id), String(json.id));
          else if (response.status >= 400 && response.status < 500) refused.push(String(event.id));
        } catch {
          // The connection died with the server: the outcome is unknown to the client, as in production.
        }
      }
    };
    const clients = Array.from({ length: 8 }, (_, i) => client(i));
    while (accepted.size < 150) await new Promise((resolve) => setTimeout(resolve, 10));
    server.child.kill('SIGKILL');
    expect(await server.exited).toBe('SIGKILL');
    stop = true;
    await Promise.all(clients);

    const db = new SQLite(dbFile, { readonly: true });
    const rows = db
      .prepare(
        `select e.external_id, e.id, count(d.id) as deliveries
         from events e left join deliveries d on d.event_id = e.id group by e.id`,
      )
      .all() as { external_id: string; id: string; deliveries: number }[];
    db.close();
    const stored = new Map(rows.map((row) => [row.external_id, row]));
    const lost = [...accepted].filter(([externalId, id]) => stored.get(externalId)?.id !== id);
    const incomplete = rows.filter((row) => row.deliveries !== 3);
    const written = refused.filter((externalId) => stored.has(externalId));
    expect({ lost, incomplete, written }).toEqual({ lost: [], incomplete: [], written: [] });
    expect(refused.length).toBeGreaterThan(0);

    // The database is intact: a restarted server opens it and accepts again.
    const restarted = await startChildServer(configFile);
    cleanups.push(() => restarted.child.kill('SIGKILL'));
    const event = leadEvent();
    const body = JSON.stringify(event);
    const response = await fetch(`${restarted.url}/webhooks/site`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...officialHeaders(secret, String(event.id), body) },
      body,
    });
    expect(response.status).toBe(202);
  });
});
