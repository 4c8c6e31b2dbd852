import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import type Koa from 'koa';
import type { LoadedConfig } from '../config/load-config.ts';

export interface RunningServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * Listens with the configured host, port and timeouts; HTTPS when
 * `server.tls` names a certificate and key (paths relative to the config file).
 */
export async function startServer(app: Koa, config: LoadedConfig): Promise<RunningServer> {
  const { host, port, tls, request_timeout } = config.main.server;
  const handler = app.callback();
  // Node checks request and header deadlines on this interval (30 s by
  // default), so a stalled request outlived request_timeout by up to that.
  const timing = { connectionsCheckingInterval: 1_000 };
  const server = tls
    ? createHttpsServer(
        {
          ...timing,
          cert: readFileSync(resolve(config.dir, tls.cert)),
          key: readFileSync(resolve(config.dir, tls.key)),
        },
        handler,
      )
    : createHttpServer(timing, handler);
  // A slow sender (slowloris) cannot hold a connection longer than this; the
  // body has its own, shorter deadline and minimum rate (src/http/reception.ts).
  server.requestTimeout = request_timeout;
  // Headers are small: a sender that takes longer than this is stalling.
  server.headersTimeout = Math.min(request_timeout, 10_000);
  server.keepAliveTimeout = 5_000;
  server.on('clientError', answerMalformedRequest);

  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(port, host, () => {
      server.off('error', rejectListen);
      resolveListen();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    server,
    port: bound,
    url: `${tls ? 'https' : 'http'}://${shownHost}:${bound}`,
    close: () =>
      new Promise((resolveClose) => {
        server.close(() => resolveClose());
        server.closeIdleConnections();
      }),
  };
}

/**
 * Requests Node's parser refuses never reach koa. Node's own answer has no
 * body; ours says what was wrong in the same `{ error, message }` shape as
 * every other refusal, so a platform's delivery log shows a reason.
 */
function answerMalformedRequest(error: Error & { code?: string }, socket: Duplex): void {
  // As Node itself does: never write into a response already under way on this socket.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const [status, reason, code, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'headers_too_large', 'the request headers are too large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'request_timeout', 'the request was not received in time']
        : [400, 'Bad Request', 'malformed_request', 'the request is not valid HTTP/1.1'];
  const body = JSON.stringify({ error: code, message });
  // end() alone only half-closes: the server allows half-open sockets and no
  // timeout watches a connection whose parser failed, so a client that never
  // closes its side would keep it open for good. Close it once the answer is out.
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    () => socket.destroy(),
  );
  // An answer the client never reads (full buffers) must not keep the socket either.
  setTimeout(() => socket.destroy(), 5_000).unref();
}
