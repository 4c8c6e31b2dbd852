import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type MadeRequest, recordingRequests, summarizeRequests } from '../src/outbox/record-requests.ts';

// The attempt log shows what an attempt really sent, whichever HTTP stack the
// connector's SDK uses, and never another attempt's requests.

describe('recording the requests an attempt makes', () => {
  const server = createServer((_request, response) => response.end('ok'));
  let base = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const viaNodeHttp = (path: string) =>
    new Promise<void>((resolve, reject) => {
      const request = httpRequest(`${base}${path}`, { method: 'PUT' }, (response) => {
        response.resume();
        response.on('end', resolve);
      });
      request.on('error', reject);
      request.end('{}');
    });

  it('records fetch and node:http requests, without their query strings', async () => {
    const made: MadeRequest[] = [];
    await recordingRequests(made, async () => {
      await (await fetch(`${base}/search?hapikey=secret`, { method: 'POST', body: '{}' })).text();
      await viaNodeHttp('/contacts/7?token=secret');
    });
    expect(made).toEqual([
      { method: 'POST', url: `${base}/search` },
      { method: 'PUT', url: `${base}/contacts/7` },
    ]);
  });

  it('keeps concurrent attempts apart', async () => {
    const first: MadeRequest[] = [];
    const second: MadeRequest[] = [];
    await Promise.all([
      recordingRequests(first, async () => {
        await (await fetch(`${base}/a`)).text();
        await viaNodeHttp('/a2');
      }),
      recordingRequests(second, async () => {
        await viaNodeHttp('/b');
        await (await fetch(`${base}/b2`)).text();
      }),
    ]);
    expect(first.map((request) => request.url)).toEqual([`${base}/a`, `${base}/a2`]);
    expect(second.map((request) => request.url)).toEqual([`${base}/b`, `${base}/b2`]);
  });

  it('records a request that failed to connect, and keeps what was made when the attempt throws', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const refused = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const made: MadeRequest[] = [];
    await expect(
      recordingRequests(made, async () => {
        await fetch(`${refused}/in`, { method: 'POST', body: '{}' });
      }),
    ).rejects.toThrow();
    expect(made).toEqual([{ method: 'POST', url: `${refused}/in` }]);
  });

  it('records nothing for a request fetch refuses to send at all (a blocked port)', async () => {
    const made: MadeRequest[] = [];
    await expect(recordingRequests(made, () => fetch('http://127.0.0.1:9/in'))).rejects.toThrow();
    expect(summarizeRequests(made, 1)).toBe('no request sent');
  });

  it('summarises in one line: the first three, how many more, the batch size; or that nothing was sent', () => {
    const made = ['a', 'b', 'c', 'd', 'e'].map((path) => ({
      method: 'POST',
      url: `https://crm.example/${path}`,
    }));
    expect(summarizeRequests(made, 1)).toBe(
      'POST https://crm.example/a, POST https://crm.example/b, POST https://crm.example/c (+2 more)',
    );
    expect(summarizeRequests(made.slice(0, 1), 10)).toBe('POST https://crm.example/a, batch of 10');
    expect(summarizeRequests([], 1)).toBe('no request sent');
  });
});
