import { describe, expect, it } from 'vitest';
import { startWorkerProcess } from './helpers/child-server.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';
import { newSecret, startTestService, type TestService } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';
import { until } from './helpers/until.ts';
import { startCrmSandboxes } from './reliability/common.ts';

// Each window in which a crash could duplicate a CRM write (docs/reliability.md,
// "Exactly once"): the destination performs the write and holds its answer,
// the worker is SIGKILLed right then (after the vendor write, before leadrelay
// records it), and a new worker must find the write instead of redoing it.
// HubSpot's search lags behind writes here as it does in real HubSpot.

const secret = newSecret();
const cleanups = cleanupsAfter('each');
/** The answer a test's destination holds back; the worker is killed long before it comes. */
const HELD_MS = 120_000;

async function setup(connector: 'hubspot' | 'salesforce' | 'slack', extra: Record<string, unknown> = {}) {
  const sandboxes = await startCrmSandboxes();
  sandboxes.hubspot.state.searchLagMs = 3_000;
  const files = sandboxes.connectorFiles();
  const service = await startTestService(
    {
      sources: { site: { verify: { secrets: [secret] } } },
      routes: [{ on: 'lead.qualified', to: [connector] }],
      delivery: { poll_interval: '100ms', lease: '1s', retry_schedule: ['0s', '200ms', '500ms', '1s', '2s'] },
    },
    { connectors: { [connector]: { ...files[connector], timeout: '60s', ...extra } } },
  );
  cleanups.push(
    () => sandboxes.close(),
    () => service.close(),
  );
  return { ...sandboxes, service };
}

async function post(service: TestService, event: Record<string, unknown>): Promise<string> {
  const body = JSON.stringify(event);
  const response = await service.post('site', body, officialHeaders(secret, String(event.id), body));
  expect(response.status).toBe(202);
  return String(response.json.id);
}

const worker = (service: TestService) => startWorkerProcess(service.configFile, cleanups);

/** Kills the first worker once `written` holds, then lets a second one finish the delivery. */
async function crashAfterWrite(service: TestService, id: string, written: () => boolean, what: string) {
  const first = await worker(service);
  await until(written, `${what} written by the first worker`, 60_000);
  first.child.kill('SIGKILL');
  await first.exited;
  await worker(service);
  let row: { status: string; attempts: number; result: string | null } | undefined;
  await until(
    async () => {
      row = await service.store.db
        .selectFrom('deliveries')
        .select(['status', 'attempts', 'result'])
        .where('event_id', '=', id)
        .executeTakeFirstOrThrow();
      return row.status === 'delivered';
    },
    'delivered by the second worker',
    60_000,
  );
  return { attempts: row!.attempts, result: JSON.parse(row!.result!) as Record<string, unknown> };
}

describe('a worker killed after the vendor wrote, before leadrelay recorded it', { timeout: 180_000 }, () => {
  it('HubSpot note: the retry reads the contact’s notes (not search) and finds it', async () => {
    const { hubspot, service } = await setup('hubspot');
    hubspot.failNext(1, { path: '/notes/batch/create', afterEffect: true, delayMs: HELD_MS });
    const id = await post(
      service,
      leadEvent({ contact: { email: 'cora@acme.example', name: 'Cora Crash' } }),
    );
    const { result } = await crashAfterWrite(service, id, () => hubspot.state.notes.size === 1, 'the note');
    const [contact] = [...hubspot.state.contacts.values()];
    expect(hubspot.state.contacts.size).toBe(1);
    expect(hubspot.state.notesOf(contact!.id)).toHaveLength(1);
    expect(result.note_id).toBe(hubspot.state.notesOf(contact!.id)[0]!.id);
  });

  it('HubSpot phone-only contact: the retry waits out search lag, finds the contact, one note', async () => {
    const { hubspot, service } = await setup('hubspot', { search_lag: '4s' });
    hubspot.failNext(1, { path: /^\/crm\/v3\/objects\/contacts$/, afterEffect: true, delayMs: HELD_MS });
    const event = leadEvent({ contact: { phone: '+14155550142', name: 'Pat Phone' } });
    const id = await post(service, event);
    await crashAfterWrite(service, id, () => hubspot.state.contacts.size === 1, 'the contact');
    expect(hubspot.state.contacts.size).toBe(1);
    const [contact] = [...hubspot.state.contacts.values()];
    expect(hubspot.state.notesOf(contact!.id)).toHaveLength(1);
    expect(hubspot.state.notes.size).toBe(1);
  });

  it('Salesforce new Lead and its Task (one composite call): the retry finds both, writes nothing more', async () => {
    const { salesforce, service } = await setup('salesforce');
    salesforce.failNext(1, {
      match: { method: 'POST', path: '/sobjects/Task' },
      afterEffect: true,
      delayMs: HELD_MS,
    });
    const id = await post(service, leadEvent({ contact: { email: 'tess@acme.example', name: 'Tess Task' } }));
    const { result } = await crashAfterWrite(service, id, () => salesforce.tasks.length === 1, 'the Task');
    expect(salesforce.leads).toHaveLength(1);
    expect(salesforce.tasks).toHaveLength(1);
    expect(result).toMatchObject({
      id: salesforce.leads[0]!.Id,
      task_id: salesforce.tasks[0]!.Id,
      task: 'existing',
    });
    // The second worker read (the look-ups, then the Task by its marker) and wrote nothing:
    // two API calls for each worker.
    expect(
      salesforce
        .operations()
        .filter((op) => op.method !== 'GET')
        .map((op) => `${op.method} ${op.path}`),
    ).toEqual(['POST /services/data/v62.0/sobjects/Lead', 'POST /services/data/v62.0/sobjects/Task']);
    expect(salesforce.apiUsage).toBe(4);
  });

  it('Salesforce returning lead (update and Task in one call): the retry finds the Task by its marker, no second one', async () => {
    const { salesforce, service } = await setup('salesforce');
    const leadId = salesforce.seed('Lead', { LastName: 'Lee', Company: 'Acme', Email: 'lee@acme.example' });
    salesforce.failNext(1, {
      match: { method: 'PATCH', path: '/sobjects/Lead/' },
      afterEffect: true,
      delayMs: HELD_MS,
    });
    const id = await post(
      service,
      leadEvent({ contact: { email: 'lee@acme.example', name: 'Lee Lead', job_title: 'CFO' } }),
    );
    const { result } = await crashAfterWrite(
      service,
      id,
      () => salesforce.tasks.length === 1,
      'the update and Task',
    );
    expect(salesforce.leads).toEqual([expect.objectContaining({ Id: leadId, Title: 'CFO' })]);
    expect(salesforce.tasks.map((task) => task.WhoId)).toEqual([leadId]);
    expect(result).toMatchObject({ id: leadId, action: 'updated', task: 'existing' });
  });

  it('Slack alert: the retry finds it in the channel history', async () => {
    const { slack, service } = await setup('slack');
    slack.failNext(1, { method: 'chat.postMessage', afterEffect: true, lateAnswerMs: HELD_MS });
    const id = await post(service, leadEvent({ contact: { email: 'sal@acme.example', name: 'Sal Slack' } }));
    await crashAfterWrite(service, id, () => slack.messagesIn('#sales').length === 1, 'the alert');
    expect(slack.messagesIn('#sales')).toHaveLength(1);
  });
});
