import { describe, expect, it } from 'vitest';
import { HubSpotSandbox } from '../connectors/hubspot/sandbox.ts';
import { startChildServer } from './helpers/child-server.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { newSecret, startTestService } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';
import { until } from './helpers/until.ts';

const secret = newSecret();
const cleanups = cleanupsAfter('each');

describe('HubSpot and a crashing worker', () => {
  it('creates one note when the worker is SIGKILLed between creating the note and recording it', async () => {
    const hubspot = await HubSpotSandbox.start();
    const service = await startTestService(
      {
        sources: { site: { verify: { secrets: [secret] } } },
        routes: [{ on: 'lead.qualified', to: ['hubspot'] }],
        delivery: { poll_interval: '100ms', lease: '1s' },
      },
      {
        connectors: {
          hubspot: { type: 'hubspot', access_token: 'pat-sandbox', base_url: hubspot.url, timeout: '30s' },
        },
      },
    );
    cleanups.push(
      () => hubspot.close(),
      () => service.close(),
    );
    // HubSpot writes the note, then hangs: the worker dies while waiting for the answer.
    hubspot.failNext(1, { path: '/notes/batch/create', afterEffect: true, delayMs: 5_000 });
    const event = leadEvent({ contact: { email: 'crash@acme.example', name: 'Cora Crash' } });
    const body = JSON.stringify(event);
    const id = String(
      (await service.post('site', body, officialHeaders(secret, String(event.id), body))).json.id,
    );

    const first = await startChildServer(service.configFile, {
      command: ['worker'],
      ready: '"msg":"worker started"',
    });
    cleanups.push(() => first.child.kill('SIGKILL'));
    await until(() => hubspot.state.notes.size === 1, 'note written by the first worker');
    first.child.kill('SIGKILL');
    await first.exited;

    const second = await startChildServer(service.configFile, {
      command: ['worker'],
      ready: '"msg":"worker started"',
    });
    cleanups.push(() => second.child.kill('SIGKILL'));
    await until(
      async () => {
        const row = await service.store.db
          .selectFrom('deliveries')
          .select('status')
          .where('event_id', '=', id)
          .executeTakeFirstOrThrow();
        return row.status === 'delivered';
      },
      'delivered by the second worker',
      20_000,
    );

    const [contact] = [...hubspot.state.contacts.values()];
    expect(hubspot.state.contacts.size).toBe(1);
    expect(hubspot.state.notesOf(contact!.id)).toHaveLength(1);
    const row = await service.store.db
      .selectFrom('deliveries')
      .select(['attempts', 'result'])
      .where('event_id', '=', id)
      .executeTakeFirstOrThrow();
    expect(row.attempts).toBe(2);
    expect(JSON.parse(row.result!).note_id).toBe(hubspot.state.notesOf(contact!.id)[0]!.id);
  });
});
