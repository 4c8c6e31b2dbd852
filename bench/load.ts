import autocannon, { type Request } from 'autocannon';
import { ACCEPTED, Ledger, REFUSED, SENT } from './ledger.ts';
import type { RequestSource } from './signed-requests.ts';

export interface LoadOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  /**
   * Where each request comes from, or `fixed`: one request sent over and
   * over, which skips autocannon's per-request rebuild and so shows what the
   * client alone can push.
   */
  requests: RequestSource | { fixed: { body: string; headers: Record<string, string> } };
}

export interface LoadResult {
  requestsPerSecond: number;
  latencyMs: { p50: number; p99: number; average: number; max: number };
  responses: number;
  /** Count per HTTP status, e.g. `{ "202": 12345 }`. */
  statusCodes: Record<string, number>;
  non2xx: number;
  /** Connection errors and timeouts, which never got a status. */
  errors: number;
  timeouts: number;
  durationSeconds: number;
  /** Share of one core the parent (autocannon plus signing) used; near 100 means the client was the limit. */
  clientCpuPercent: number;
  /** Per request, when every request was a distinct event. */
  ledger: Ledger | undefined;
}

/** Runs autocannon in this process against `url` and summarises what it saw. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const ledger = 'fixed' in options.requests || !options.requests.distinct ? undefined : new Ledger();
  const cpuBefore = process.cpuUsage();
  const wallBefore = process.hrtime.bigint();
  const result = await autocannon({
    url: options.url,
    method: 'POST',
    connections: options.connections,
    duration: options.durationSeconds,
    requests: [requestPlan(options.requests, ledger)],
  });
  const wallSeconds = Number(process.hrtime.bigint() - wallBefore) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);

  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) statusCodes[code] = count;
  return {
    requestsPerSecond: result.requests.average,
    latencyMs: {
      p50: result.latency.p50,
      p99: result.latency.p99,
      average: result.latency.average,
      max: result.latency.max,
    },
    responses: Object.values(statusCodes).reduce((sum, count) => sum + count, 0),
    statusCodes,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationSeconds: result.duration,
    clientCpuPercent: ((cpu.user + cpu.system) / 1e6 / wallSeconds) * 100,
    ledger,
  };
}

function requestPlan(requests: LoadOptions['requests'], ledger: Ledger | undefined): Request {
  if ('fixed' in requests) return { path: '/webhooks/bench', ...requests.fixed };
  const plan: Request = {
    path: '/webhooks/bench',
    setupRequest(request, context) {
      const next = requests.make();
      // With pipelining 1 a connection has one request out at a time, so its
      // context identifies the request the next response answers.
      context.seq = next.seq;
      ledger?.record(next.seq, SENT);
      request.body = next.body;
      request.headers = next.headers;
      return request;
    },
  };
  if (ledger) {
    plan.onResponse = (status, _body, context) =>
      ledger.record(context.seq as number, status >= 200 && status < 300 ? ACCEPTED : REFUSED);
  }
  return plan;
}
