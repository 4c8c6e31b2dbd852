// A destination with a CRM's latency, in its own process so its work is not
// charged to the bench or to leadrelay: every POST is answered 200 after
// LATENCY_MS (default 100; 0 answers as soon as the body is in). It counts
// deliveries by `webhook-id` (leadrelay's event id) so a run can tell
// delivered from delivered twice.
//
//   GET /stats → { received, distinct, duplicates, firstAt, lastAt }
//   (times from performance.timeOrigin + now(), in ms)
//
// Logs `{"msg":"listening","port":N}` once bound (PORT=0 picks a free port).
import { createServer } from 'node:http';

const latencyMs = Number(process.env.LATENCY_MS ?? 100);
const seen = new Map();
let received = 0;
let firstAt;
let lastAt;

const server = createServer((request, response) => {
  if (request.method === 'GET' && request.url === '/stats') {
    const duplicates = [...seen.values()].reduce((sum, count) => sum + count - 1, 0);
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ received, distinct: seen.size, duplicates, firstAt, lastAt }));
    return;
  }
  const arrivedAt = performance.timeOrigin + performance.now();
  firstAt ??= arrivedAt;
  request.resume();
  request.on('end', () => {
    const answer = () => {
      const id = String(request.headers['webhook-id'] ?? '');
      seen.set(id, (seen.get(id) ?? 0) + 1);
      received++;
      lastAt = performance.timeOrigin + performance.now();
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end('{"ok":true}');
    };
    if (latencyMs > 0) setTimeout(answer, latencyMs);
    else answer();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ msg: 'listening', port: server.address().port }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
