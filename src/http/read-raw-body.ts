import type { IncomingMessage } from 'node:http';

export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`the body is larger than ${limit} bytes`);
  }
}

/**
 * Reads the request body as bytes, refusing before reading when
 * Content-Length already exceeds the limit and aborting as soon as the
 * streamed bytes do, so an oversized body never sits in memory.
 */
export async function readRawBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLargeError(limit);
  // Events rather than `for await`: leaving an async iterator early destroys
  // the stream, and with it the socket our 413 still has to travel on.
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onClose = () => onError(new Error('the client closed the connection before the body ended'));
    const onData = (chunk: Buffer) => {
      length += chunk.length;
      if (length > limit) {
        stop();
        req.pause();
        reject(new BodyTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, length));
    };
    const onError = (error: Error) => {
      stop();
      reject(error);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('close', onClose);
  });
}

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
