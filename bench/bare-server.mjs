// The baseline leadrelay is compared with: node:http answering 202 and doing
// nothing else. Plain JavaScript run by plain node, so the baseline carries no
// loader, framework or logger. The body is never read; node discards it.
import { createServer } from 'node:http';

const server = createServer((_req, res) => {
  res.statusCode = 202;
  res.end();
});
// Same keep-alive window as leadrelay's server, so neither closes connections the other keeps.
server.keepAliveTimeout = 5_000;

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  // The same "listening" line leadrelay logs, so the bench finds the port the same way.
  console.log(JSON.stringify({ msg: 'listening', port }));
});

process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});
