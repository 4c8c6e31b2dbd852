import { type Rejection, reject } from './rejection.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Deeper than any real chat payload; bounds the work a hostile body can cause downstream. */
export const MAX_JSON_DEPTH = 64;

/** Decodes strictly (invalid UTF-8 is refused, not replaced) and parses JSON. */
export function parseJsonBody(
  body: Buffer,
): { ok: true; value: unknown; text: string } | { ok: false; rejection: Rejection } {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return { ok: false, rejection: reject(400, 'invalid_json', 'the body is not valid UTF-8') };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const detail = error instanceof SyntaxError ? `: ${error.message}` : '';
    return { ok: false, rejection: reject(400, 'invalid_json', `the body is not valid JSON${detail}`) };
  }
  if (depthExceeds(value, MAX_JSON_DEPTH)) {
    return {
      ok: false,
      rejection: reject(422, 'invalid_event', `the event is nested deeper than ${MAX_JSON_DEPTH} levels`, [
        { path: '', message: `nested deeper than ${MAX_JSON_DEPTH} levels` },
      ]),
    };
  }
  return { ok: true, value, text };
}

function depthExceeds(root: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth > limit) return true;
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
  return false;
}
