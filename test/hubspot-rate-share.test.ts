import { afterEach, describe, expect, it } from 'vitest';
import { HubSpotClient } from '../connectors/hubspot/client.ts';
import { HubSpotSandbox } from '../sandboxes/hubspot/index.ts';

let hubspot: HubSpotSandbox | undefined;
afterEach(() => hubspot?.close());

describe('HubSpot request budget', () => {
  it('takes only its share of the portal limit when several workers share it', async () => {
    hubspot = await HubSpotSandbox.start();
    let workers = 2;
    const client = new HubSpotClient({
      accessToken: 'pat-sandbox',
      baseUrl: hubspot.url,
      timeoutMs: 5_000,
      rate: { requests: 4, perMs: 60_000 },
      now: Date.now,
      rateShare: () => workers,
    });
    await client.existingByEmail(['a@x.example']);
    await client.existingByEmail(['b@x.example']);
    // 4 per minute shared by 2 workers: a third request must wait for the window.
    const third = client.existingByEmail(['c@x.example']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(hubspot.log).toHaveLength(2);
    // One worker left: the whole budget is this one's again.
    workers = 1;
    const fourth = client.existingByEmail(['d@x.example']);
    await fourth;
    expect(hubspot.log.length).toBeGreaterThanOrEqual(3);
    void third.catch(() => {});
  });

  it('keeps phone searches under HubSpot’s search limit (4 per second), apart from the request budget', async () => {
    hubspot = await HubSpotSandbox.start({ tenSecondlyLimit: 1000 });
    const client = new HubSpotClient({
      accessToken: 'pat-sandbox',
      baseUrl: hubspot.url,
      timeoutMs: 5_000,
      rate: undefined,
      now: Date.now,
    });
    const started = Date.now();
    await Promise.all(Array.from({ length: 5 }, () => client.searchByPhone('+14155550142')));
    // The fifth may start only when the first has left the one-second window.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(hubspot.log.filter((entry) => entry.path.endsWith('/contacts/search'))).toHaveLength(5);
  });
});
