import type { IncomingMessage } from 'node:http';

/**
 * Reads and throws away what is left of a refused body, up to a bound, before
 * the answer is sent. Closing a socket that still has unread bytes makes the
 * kernel send a reset, and a reset can arrive before the client has read our
 * 413, leaving it with "connection reset" instead of a reason. Draining a
 * modest overflow avoids that; beyond the bound (or the time allowed) the
 * answer is not held back any longer, and the connection closes behind it.
 */
export function discardRest(
  req: IncomingMessage,
  bounds: { maxBytes: number; maxMs: number },
): Promise<void> {
  const declared = Number(req.headers['content-length']);
  if (req.readableEnded || (Number.isFinite(declared) && declared > bounds.maxBytes)) {
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    let seen = 0;
    const finish = () => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', finish);
      req.off('error', finish);
      req.off('close', finish);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > bounds.maxBytes) finish();
    };
    const timer = setTimeout(finish, bounds.maxMs);
    req.on('data', onData);
    req.once('end', finish);
    req.once('error', finish);
    req.once('close', finish);
    req.resume();
  });
}
