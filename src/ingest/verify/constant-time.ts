import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares two byte strings in time that depends on neither content nor
 * length: both sides are hashed first, so `timingSafeEqual` always sees
 * equal lengths and an attacker learns nothing from early exits.
 */
export function constantTimeEqual(a: Uint8Array | string, b: Uint8Array | string): boolean {
  const digestA = createHash('sha256').update(a).digest();
  const digestB = createHash('sha256').update(b).digest();
  return timingSafeEqual(digestA, digestB);
}
