import type { IncomingMessage, ServerResponse } from 'node:http';
import { Client } from '@hubspot/api-client';
import { WebClient } from '@slack/web-api';
import jsforce from 'jsforce';
import { describe, expect, it } from 'vitest';
import { hubspotError } from '../connectors/hubspot/errors.ts';
import { callError } from '../connectors/salesforce/errors.ts';
import { slackFailure } from '../connectors/slack/errors.ts';
import { httpStatusOf, transportFailure } from '../connectors/transport-failure.ts';
import { listenOnLoopback } from '../sandboxes/server.ts';
import { cleanupsAfter } from './helpers/cleanups.ts';

// Each SDK is driven, as installed, against a loopback server that fails the
// way networks do. This file runs in the pinned run and in the latest-majors
// run (npm run test:latest), so a major that moves where a failure is reported
// fails here, not in a customer's dead-letter list.

const cleanups = cleanupsAfter('each');

type Fault = 'reset' | 'hang' | '503';

async function faultyServer(fault: Fault): Promise<string> {
  const http = await listenOnLoopback((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      if (fault === 'reset') req.socket.destroy();
      else if (fault === '503') {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ status: 'error', message: 'Service Unavailable', category: 'INTERNAL_ERROR' }),
        );
      }
      // 'hang': never answer; the client's timeout must fire.
    });
  });
  cleanups.push(() => http.close());
  return http.origin;
}

/** A closed port on loopback: listen, note the port, stop listening. */
async function refusingOrigin(): Promise<string> {
  const http = await listenOnLoopback(() => {});
  await http.close();
  return http.origin;
}

async function thrown(call: Promise<unknown>): Promise<unknown> {
  return call.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (error: unknown) => error,
  );
}

const hubspot = (origin: string) =>
  new Client({ accessToken: 'pat-test', basePath: origin, numberOfApiCallRetries: 0 }).crm.contacts.basicApi
    .getById('1')
    .then(() => undefined);
// A POST, as deliveries make: jsforce retries failed GETs by itself for about 15 s.
const salesforce = (origin: string, timeout?: number) =>
  new jsforce.Connection({ instanceUrl: origin, accessToken: 'token', version: '62.0' }).request(
    { method: 'POST', url: '/services/data/v62.0/sobjects/Lead', body: '{"LastName":"Test"}' },
    { timeout },
  );
const slack = (origin: string, timeout?: number) =>
  new WebClient('xoxb-test', {
    slackApiUrl: `${origin}/api/`,
    retryConfig: { retries: 0 },
    timeout,
  }).chat.postMessage({ channel: '#sales', text: 'hi' });

describe('network failures are recognised whichever SDK major threw them', () => {
  it('a dropped connection: "connection reset", retryable, through HubSpot, jsforce, Slack and fetch', async () => {
    const origin = await faultyServer('reset');
    const errors = {
      hubspot: await thrown(hubspot(origin)),
      salesforce: await thrown(salesforce(origin)),
      slack: await thrown(slack(origin)),
      fetch: await thrown(fetch(origin)),
    };
    for (const [sdk, error] of Object.entries(errors)) {
      const failure = transportFailure(sdk === 'slack' ? (error as { original: unknown }).original : error);
      expect(failure, sdk).toMatchObject({
        kind: 'network',
        reason: expect.stringMatching(/^connection reset \(/),
      });
    }
    const hub = hubspotError(errors.hubspot, 'reading a contact');
    expect(hub).toMatchObject({ retryable: true, statusCode: undefined });
    expect(hub.message).toMatch(/^could not reach HubSpot while reading a contact: connection reset/);
    const sf = callError(errors.salesforce, 'the Lead', {
      probe: { status: undefined, headers: undefined },
      host: new URL(origin).host,
      timeoutMs: 10_000,
      now: Date.now(),
    });
    expect(sf.retryable).toBe(true);
    expect(sf.message).toMatch(/^could not reach 127\.0\.0\.1:\d+ \(the Lead\): connection reset/);
    const sl = slackFailure(errors.slack, '#sales', 'slack').error;
    expect(sl.retryable).toBe(true);
    expect(sl.message).toMatch(/^could not reach Slack: connection reset/);
  });

  it('a refused connection: "connection refused", retryable', async () => {
    const origin = await refusingOrigin();
    for (const error of [
      await thrown(hubspot(origin)),
      await thrown(salesforce(origin)),
      await thrown(fetch(origin)),
    ]) {
      expect(transportFailure(error)).toMatchObject({ kind: 'network', code: 'ECONNREFUSED' });
    }
    const sl = slackFailure(await thrown(slack(origin)), '#sales', 'slack').error;
    expect(sl).toMatchObject({
      retryable: true,
      message: 'could not reach Slack: connection refused (ECONNREFUSED)',
    });
  });

  it('no answer in time: a timeout, retryable, with the configured limit in the message', async () => {
    const origin = await faultyServer('hang');
    const sfError = await thrown(salesforce(origin, 200));
    expect(transportFailure(sfError)?.kind).toBe('timeout');
    expect(
      callError(sfError, 'the Lead', {
        probe: { status: undefined, headers: undefined },
        host: new URL(origin).host,
        timeoutMs: 200,
        now: Date.now(),
      }).message,
    ).toBe('Salesforce did not answer the Lead within 200 ms');
    const slackError = await thrown(slack(origin, 200));
    expect(slackFailure(slackError, '#sales', 'slack').error.message).toBe(
      'could not reach Slack: timed out',
    );
    const fetchError = await thrown(fetch(origin, { signal: AbortSignal.timeout(200) }));
    expect(transportFailure(fetchError)?.kind).toBe('timeout');
  });

  it('an HTTP status is found wherever the SDK keeps it, and is never taken for a network failure', async () => {
    const origin = await faultyServer('503');
    const hubError = await thrown(hubspot(origin));
    expect(httpStatusOf(hubError)).toBe(503);
    expect(transportFailure(hubError)).toBeUndefined();
    expect(hubspotError(hubError, 'reading a contact')).toMatchObject({ retryable: true, statusCode: 503 });
    const slackError = await thrown(slack(origin));
    expect(httpStatusOf(slackError)).toBe(503);
    expect(slackFailure(slackError, '#sales', 'slack').error).toMatchObject({
      retryable: true,
      statusCode: 503,
    });
  });

  it('reads the shapes each stack is documented to use', () => {
    const socketError = Object.assign(new Error('other side closed'), {
      name: 'SocketError',
      code: 'UND_ERR_SOCKET',
    });
    // Node's fetch (undici): TypeError "fetch failed" with the reason as its cause.
    expect(transportFailure(new TypeError('fetch failed', { cause: socketError }))).toEqual({
      kind: 'network',
      reason: 'connection reset (UND_ERR_SOCKET)',
      code: 'UND_ERR_SOCKET',
    });
    // node-fetch: FetchError with the errno on the error itself.
    const fetchError = Object.assign(new Error('request to … failed, reason: socket hang up'), {
      name: 'FetchError',
      code: 'ECONNRESET',
    });
    expect(transportFailure(fetchError)?.reason).toBe('connection reset (ECONNRESET)');
    // undici's connect timeout and an AbortSignal.timeout() are timeouts.
    const connectTimeout = Object.assign(new Error('Connect Timeout Error'), {
      code: 'UND_ERR_CONNECT_TIMEOUT',
    });
    expect(transportFailure(new TypeError('fetch failed', { cause: connectTimeout }))?.kind).toBe('timeout');
    expect(
      transportFailure(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))?.kind,
    ).toBe('timeout');
    // An AggregateError (happy eyeballs tried every address) carries its reasons in `errors`.
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(
      transportFailure(new TypeError('fetch failed', { cause: new AggregateError([refused]) }))?.code,
    ).toBe('ECONNREFUSED');
    // Statuses: HubSpot's ApiException keeps it in `code`, others in status, statusCode, response or body.
    expect(httpStatusOf({ code: 429, body: { status: 'error' } })).toBe(429);
    expect(httpStatusOf({ statusCode: 502 })).toBe(502);
    expect(httpStatusOf({ response: { status: 504 } })).toBe(504);
    expect(httpStatusOf(new Error('wrapped', { cause: { status: 503 } }))).toBe(503);
    expect(httpStatusOf({ code: 'ECONNRESET' })).toBeUndefined();
    // Something else entirely is neither: the caller keeps its own (retryable) default.
    expect(transportFailure(new Error('boom'))).toBeUndefined();
    expect(httpStatusOf(new Error('boom'))).toBeUndefined();
  });
});
