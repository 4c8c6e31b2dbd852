import { connect, type Socket } from 'node:net';

/**
 * A POST sent by hand over a raw socket, from a chosen loopback address
 * (all of 127.0.0.0/8 is this machine on Linux), as an attacker would: its
 * headers at once, then the body as the test writes it. `answer` settles
 * with what came back (status line and body) when the server answers or
 * closes the connection.
 */
export interface RawRequest {
  socket: Socket;
  /** Writes part of the body; false once the server has closed the connection. */
  write(chunk: string | Buffer): boolean;
  answer: Promise<{ status: number; body: string }>;
  /** The connection is closed (by either side). */
  closed(): boolean;
  destroy(): void;
}

export function rawPost(
  url: string,
  options: { from?: string; contentLength?: number; headers?: Record<string, string> } = {},
): Promise<RawRequest> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: target.hostname,
      port: Number(target.port),
      ...(options.from ? { localAddress: options.from } : {}),
    });
    let received = '';
    let isClosed = false;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    const answer = new Promise<{ status: number; body: string }>((settle) => {
      const done = () => {
        isClosed = true;
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0);
        settle({ status, body: received.slice(received.indexOf('\r\n\r\n') + 4) });
      };
      socket.once('close', done);
    });
    socket.on('error', () => {});
    socket.once('connect', () => {
      const headers = {
        host: target.host,
        'content-type': 'application/json',
        ...(options.contentLength === undefined
          ? { 'transfer-encoding': 'chunked' }
          : { 'content-length': String(options.contentLength) }),
        ...options.headers,
      };
      socket.write(
        `POST ${target.pathname} HTTP/1.1\r\n${Object.entries(headers)
          .map(([name, value]) => `${name}: ${value}\r\n`)
          .join('')}\r\n`,
      );
      resolve({
        socket,
        write: (chunk) => {
          if (isClosed || socket.destroyed) return false;
          socket.write(chunk);
          return true;
        },
        answer,
        closed: () => isClosed,
        destroy: () => socket.destroy(),
      });
    });
    socket.once('error', reject);
  });
}
