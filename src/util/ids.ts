import { randomBytes } from 'node:crypto';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * A ULID-style id behind a prefix: time-ordered (so ids sort by arrival in
 * lists) and random enough to never collide across processes.
 *
 * @example
 * newId('ev') // 'ev_01JDQ3M6Z8K3V7T1X9R2B5C4D6'
 */
export function newId(prefix: string, nowMs = Date.now()): string {
  let time = '';
  let t = nowMs;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32]! + time;
    t = Math.floor(t / 32);
  }
  let random = '';
  const bytes = randomPool(16);
  for (let i = 0; i < 16; i++) random += CROCKFORD[bytes[i]! % 32];
  return `${prefix}_${time}${random}`;
}

// One randomBytes call per 256 ids instead of one per id: ingest makes an id per request.
let pool: Buffer = Buffer.alloc(0);
let offset = 0;

function randomPool(size: number): Buffer {
  if (offset + size > pool.length) {
    pool = randomBytes(4096);
    offset = 0;
  }
  const slice = pool.subarray(offset, offset + size);
  offset += size;
  return slice;
}
