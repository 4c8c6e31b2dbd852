import { readFileSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AddressSet, clientAddress } from '../src/http/client-address.ts';
import { newSecret, startTestService } from './helpers/harness.ts';
import { leadEvent, officialHeaders } from './helpers/sign.ts';

describe('client address', () => {
  const proxies = new AddressSet(['10.0.0.0/8', '::1']);

  it('is the socket peer when the peer is not a trusted proxy, whatever X-Forwarded-For says', () => {
    expect(clientAddress('198.51.100.9', '203.0.113.7', proxies)).toBe('198.51.100.9');
  });

  it('is the first untrusted hop from the right when the peer is a trusted proxy', () => {
    expect(clientAddress('10.0.0.2', '203.0.113.7, 198.51.100.1, 10.0.0.5', proxies)).toBe('198.51.100.1');
    expect(clientAddress('::ffff:10.0.0.2', '203.0.113.7', proxies)).toBe('203.0.113.7');
  });

  it('matches IPv4-mapped IPv6 peers against IPv4 blocks, and IPv6 blocks', () => {
    const allowed = new AddressSet(['192.0.2.0/24', '2001:db8::/32']);
    expect(allowed.has('::ffff:192.0.2.44')).toBe(true);
    expect(allowed.has('2001:db8::1')).toBe(true);
    expect(allowed.has('192.0.3.1')).toBe(false);
    expect(allowed.has('not an address')).toBe(false);
  });
});

describe('allow_ips behind a trusted proxy', () => {
  it('believes X-Forwarded-For only from server.trusted_proxies', async () => {
    const secret = newSecret();
    const config = (trusted: string[]) => ({
      server: { trusted_proxies: trusted },
      sources: { site: { verify: { secrets: [secret] }, allow_ips: ['203.0.113.0/24'] } },
    });
    const post = async (service: Awaited<ReturnType<typeof startTestService>>, forwardedFor: string) => {
      const event = leadEvent();
      const body = JSON.stringify(event);
      const headers = { ...officialHeaders(secret, String(event.id), body), 'x-forwarded-for': forwardedFor };
      return (await service.post('site', body, headers)).status;
    };

    const behindProxy = await startTestService(config(['127.0.0.1']));
    try {
      expect(await post(behindProxy, '203.0.113.7')).toBe(202);
      // Refused like an unsigned request (docs/security.md: who may send is not told).
      expect(await post(behindProxy, '198.51.100.1')).toBe(401);
    } finally {
      await behindProxy.close();
    }
    const direct = await startTestService(config([]));
    try {
      expect(await post(direct, '203.0.113.7')).toBe(401);
    } finally {
      await direct.close();
    }
  });
});

describe('server.tls', () => {
  it('serves HTTPS with the configured certificate and key', async () => {
    const fixtures = join(import.meta.dirname, 'fixtures', 'tls');
    const service = await startTestService({
      server: { tls: { cert: join(fixtures, 'cert.pem'), key: join(fixtures, 'key.pem') } },
      sources: {},
    });
    try {
      expect(service.url).toMatch(/^https:/);
      const status = await new Promise<number>((resolve, reject) => {
        https
          .get(`${service.url}/healthz`, { ca: readFileSync(join(fixtures, 'cert.pem')) }, (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          })
          .on('error', reject);
      });
      expect(status).toBe(200);
    } finally {
      await service.close();
    }
  });
});
