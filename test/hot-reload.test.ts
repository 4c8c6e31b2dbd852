import { writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { newSecret, startTestService, type TestService } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';
import { until } from './helpers/until.ts';

let service: TestService | undefined;
afterEach(async () => {
  await service?.close();
  service = undefined;
});

describe('hot reload', () => {
  it('applies a valid change, rejects an invalid one, and accepts events throughout', async () => {
    const secret = newSecret();
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const main = (to: string[]) => ({
      server: { host: '127.0.0.1', port: 0 },
      sources: { site: { verify: { secrets: [secret] } } },
      routes: [{ on: 'lead.qualified', to }],
    });
    service = await startTestService(main(['alpha']), {
      watch: true,
      logger,
      connectors: {
        alpha: { type: 'webhook', url: 'http://127.0.0.1:9/a' },
        beta: { type: 'webhook', url: 'http://127.0.0.1:9/b' },
      },
    });
    const running = service;
    const rewrite = (config: Record<string, unknown>) =>
      writeFileSync(
        running.configFile,
        stringify({ ...config, database: { url: `sqlite:${running.dbFile}` } }),
      );
    const readiness = async () =>
      (await (await fetch(`${running.url}/readyz`)).json()) as {
        status: string;
        config: { loaded_at: string; rejected_change?: { at: string; error?: string }; file?: string };
      };

    const statuses: number[] = [];
    let stop = false;
    const poster = async () => {
      while (!stop) {
        const event = leadEvent();
        const body = JSON.stringify(event);
        statuses.push(
          (await running.post('site', body, officialHeaders(secret, String(event.id), body))).status,
        );
      }
    };
    const posters = [poster(), poster(), poster()];

    // A valid change: leads now also go to beta.
    const firstLoad = (await readiness()).config.loaded_at;
    rewrite(main(['alpha', 'beta']));
    await until(async () => (await readiness()).config.loaded_at !== firstLoad);
    expect(running.config.current.routes[0]!.to).toEqual(['alpha', 'beta']);

    // An invalid change: rejected, reported, and the last valid configuration keeps serving.
    writeFileSync(running.configFile, 'sources:\n  site:\n    verify: { secrets: [nope] }\nroutes: [\n');
    await until(async () => (await readiness()).config.rejected_change !== undefined);
    const ready = await readiness();
    expect(ready.status).toBe('ready');
    // /readyz needs no token: it says when a change was rejected, not what it said (secrets) or where.
    expect(ready.config.rejected_change?.error).toBeUndefined();
    expect(ready.config.file).toBeUndefined();
    expect(lines.some((line) => /leadrelay\.yaml:\d+:\d+: /.test(line))).toBe(true);
    expect(running.config.current.routes[0]!.to).toEqual(['alpha', 'beta']);
    expect(lines.some((line) => line.includes('configuration change rejected'))).toBe(true);
    const countBefore = statuses.length;
    await until(() => statuses.length > countBefore + 10);

    // Fixed again: the rejection is cleared.
    rewrite(main(['alpha']));
    await until(async () => (await readiness()).config.rejected_change === undefined);
    // Events keep being accepted after the fix too (however slowly a loaded machine posts them).
    const countFixed = statuses.length;
    await until(() => statuses.length > Math.max(countFixed + 5, 20));

    stop = true;
    await Promise.all(posters);
    expect(statuses.length).toBeGreaterThan(20);
    expect(new Set(statuses)).toEqual(new Set([202]));

    // Every event was routed by one whole configuration: alpha alone, or alpha and beta.
    const rows = await running.store.db
      .selectFrom('deliveries')
      .select(['event_id', 'connector'])
      .orderBy('connector')
      .execute();
    const byEvent = new Map<string, string[]>();
    for (const row of rows) byEvent.set(row.event_id, [...(byEvent.get(row.event_id) ?? []), row.connector]);
    expect(byEvent.size).toBe(statuses.length);
    const shapes = new Set([...byEvent.values()].map((connectors) => connectors.join('+')));
    expect([...shapes].sort()).toEqual(['alpha', 'alpha+beta']);
  });
});
