import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A sandbox's HTTP side: listening on 127.0.0.1 only, and closable even with clients still connected. */
export interface LoopbackServer {
  server: Server;
  /** `http://127.0.0.1:PORT` */
  origin: string;
  /** Drops open connections (a sandbox must not keep a test waiting on keep-alive sockets), then stops listening. */
  close(): Promise<void>;
}

/**
 * Starts the HTTP server every connector sandbox runs on.
 *
 * @example
 * let sandbox: MySandbox | undefined;
 * const http = await listenOnLoopback((req, res) => void sandbox!.handle(req, res), options.port);
 * sandbox = new MySandbox(http);
 */
export async function listenOnLoopback(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  port = 0,
): Promise<LoopbackServer> {
  const sockets = new Set<Socket>();
  const server = createServer(handler);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // A port in use must reject, not leave the caller waiting with an unhandled 'error' event.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    server,
    origin: `http://127.0.0.1:${bound}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
