import { randomBytes } from 'node:crypto';
import { constantTimeEqual } from '../../ingest/verify/constant-time.ts';

export interface Session {
  expiresAt: number;
  /** Sent back in every form of the page; a POST without it is refused. */
  csrf: string;
  /** The name the operator gave with their last correction, offered again in the next. */
  operator?: string | undefined;
}

/**
 * Admin page sessions: a random id (256 bits) in an HttpOnly cookie, mapped
 * here to its expiry and CSRF token. The admin token itself never goes into
 * a cookie, logout really ends a session, and a restart ends them all (the
 * operator logs in again). Sessions are per process: behind a load balancer
 * with several leadrelay processes, use the API with the token instead.
 */
export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
    private readonly max = 1000,
  ) {}

  create(): { id: string; session: Session } {
    this.prune();
    // Never more than `max` live sessions: the oldest go first.
    while (this.sessions.size >= this.max) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    const id = randomBytes(32).toString('base64url');
    const session = { expiresAt: this.now() + this.ttlMs, csrf: randomBytes(32).toString('base64url') };
    this.sessions.set(id, session);
    return { id, session };
  }

  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    if (session.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    return session;
  }

  delete(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  private prune(): void {
    const now = this.now();
    for (const [id, session] of this.sessions) if (session.expiresAt <= now) this.sessions.delete(id);
  }
}

/** The admin token check, in time independent of where (or whether) the strings differ. */
export function tokenMatches(expected: string, given: string | undefined): boolean {
  return given !== undefined && given.length > 0 && constantTimeEqual(expected, given);
}

export function csrfMatches(session: Session, given: unknown): boolean {
  return typeof given === 'string' && constantTimeEqual(session.csrf, given);
}
