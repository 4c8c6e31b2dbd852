import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { WebhookSandbox } from '../../sandboxes/webhook/index.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { cleanupsAfter } from '../helpers/cleanups.ts';
import { newSecret, startTestService } from '../helpers/harness.ts';
import { until } from '../helpers/until.ts';
import { events, postSigned, sleep } from './common.ts';
import { record } from './results.ts';

const BROKEN = join(import.meta.dirname, 'broken-configs');
const cleanups = cleanupsAfter('all');
const configResults: string[] = [];

describe('config faults', () => {
  const names = readdirSync(BROKEN).sort();

  it.each(names)('refuses broken-configs/%s with its expected error', async (name) => {
    const expected = readFileSync(join(BROKEN, name, 'expected.txt'), 'utf8').trim();
    const error = await loadConfig(join(BROKEN, name, 'leadrelay.yaml'), { env: {} }).then(
      () => undefined,
      (failure: Error) => failure,
    );
    expect(error?.message).toContain(expected);
    configResults.push(name);
  });

  it('keeps serving with the last good configuration when a hot reload meets a broken file under load', async () => {
    const secret = newSecret();
    const hook = await WebhookSandbox.start();
    const other = await WebhookSandbox.start();
    cleanups.push(
      () => hook.close(),
      () => other.close(),
    );
    const config = {
      sources: { site: { verify: { secrets: [secret] } } },
      routes: [{ on: '*', to: ['hook'] }],
      delivery: { poll_interval: '100ms' },
    };
    const service = await startTestService(config, {
      watch: true,
      worker: true,
      connectors: {
        hook: { type: 'webhook', url: `${hook.url}/in` },
        other: { type: 'webhook', url: `${other.url}/in` },
      },
    });
    cleanups.push(() => service.close());
    const good = readFileSync(service.configFile, 'utf8');
    const tag = `reload${Date.now()}`;
    const all = events(300, 30, tag);
    const replies: number[] = [];
    const ids: string[] = [];
    let next = 0;
    let brokenSince = 0;
    let brokenUntil = 0;
    let duringBroken = 0;
    const client = async () => {
      while (next < all.length) {
        const event = all[next++]!;
        const reply = await postSigned(service.url, secret, event);
        if (brokenSince && !brokenUntil) duringBroken++;
        replies.push(reply.status);
        await sleep(20);
        ids.push(String(reply.json.id));
      }
    };
    const clients = Array.from({ length: 5 }, () => client());
    // Under load: a broken file that would route everything to `other` if it were applied …
    await until(() => replies.length >= 50, 'load running');
    // Each broken file stays until the service has refused it (readyz names the rejected
    // change) and 15 more events were answered meanwhile: conditions, not a time, so a
    // loaded machine only makes the window longer.
    const rejectedAt = async () => {
      const readyz = (await (await fetch(`${service.url}/readyz`)).json()) as {
        config: { rejected_change?: { at: string } };
      };
      return readyz.config.rejected_change?.at;
    };
    const holdUntilRefused = async (contents: string, what: string) => {
      const before = await rejectedAt();
      const answeredBefore = duringBroken;
      writeFileSync(service.configFile, contents);
      await until(
        async () => duringBroken >= answeredBefore + 15 && (await rejectedAt()) !== before,
        `${what} refused while 15 events were answered`,
      );
    };
    const broken = { ...config, routes: [{ on: '*', to: ['other'] }], rootes: [] };
    brokenSince = Date.now();
    await holdUntilRefused(stringify({ ...parse(good), ...broken }), 'the schema-invalid file');
    // … then half-written YAML, then the good file again.
    await holdUntilRefused(good.slice(0, Math.floor(good.length / 2)), 'the half-written file');
    writeFileSync(service.configFile, good);
    brokenUntil = Date.now();
    await Promise.all(clients);
    await until(() => hook.delivered().length >= all.length, 'every event delivered');
    await sleep(300);
    const delivered = new Set(hook.delivered().map((r) => r.id));
    const lost = ids.filter((id) => !delivered.has(id));
    const duplicated = hook.delivered().length - delivered.size;
    record({
      order: 4,
      scenario: 'config faults',
      load: `${names.length} broken configurations; 300 events at concurrency 5 during two hot reloads to broken files`,
      faults:
        'YAML syntax errors, unknown keys, bad types and values, routes to missing connectors, insecure scheme; a reload to a schema-invalid file routing to another connector, then to half-written YAML',
      accepted: replies.filter((s) => s === 202).length,
      delivered: delivered.size,
      lost: lost.length,
      duplicated,
      notes: `${configResults.length}/${names.length} broken configurations refused with their expected error; ${other.received.length} events misrouted to the broken file's connector; ${duringBroken} events answered while a broken file was in place; statuses: ${[...new Set(replies)].join(', ')}`,
    });
    expect(replies.every((s) => s === 202)).toBe(true);
    expect(duringBroken).toBeGreaterThanOrEqual(30);
    expect({ lost, duplicated, misrouted: other.received.length }).toEqual({
      lost: [],
      duplicated: 0,
      misrouted: 0,
    });
  });
});
