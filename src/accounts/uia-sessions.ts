/**
 * The memory of User-Interactive Authentication sessions: anyone can start one (`POST /register`
 * needs no token), so they are kept bounded, as a least-recently-used map of at most `maxSessions`,
 * each forgotten after `idleLifetimeMs` without use. Synapse expires them too; a client whose session
 * is gone is told so (400) and starts over.
 */
import type { UiaStage } from './uia.js';

/** A typed slot of data an endpoint keeps with a session (Synapse's `UIAuthSessionDataConstants`). */
export class UiaSessionKey<T> {
  declare private readonly brand: T;
  constructor(readonly name: string) {}
}

export interface UiaSession {
  /** The request that started it (method and path): it completes no other (Synapse: uri and method). */
  operation: string;
  /** On authenticated endpoints, the requester: the session is theirs alone. */
  userId?: string;
  completed: Set<UiaStage>;
  data: Map<string, unknown>;
  lastUsedAt: number;
}

export interface UiaSessionLimits {
  maxSessions: number;
  idleLifetimeMs: number;
  now?: () => number;
}

/** 30 minutes idle; 10,000 sessions of a few hundred bytes each stay well under a megabyte or two. */
export const DEFAULT_UIA_SESSION_LIMITS: UiaSessionLimits = { maxSessions: 10_000, idleLifetimeMs: 30 * 60 * 1000 };

export class UiaSessionStore {
  /** In order of last use, oldest first: expiry and eviction both take from the front. */
  private readonly sessions = new Map<string, UiaSession>();
  private readonly now: () => number;

  constructor(private readonly limits: UiaSessionLimits = DEFAULT_UIA_SESSION_LIMITS) {
    this.now = limits.now ?? Date.now;
  }

  add(id: string, session: Omit<UiaSession, 'lastUsedAt' | 'completed' | 'data'>): UiaSession {
    this.pruneExpired();
    const entry: UiaSession = { ...session, completed: new Set(), data: new Map(), lastUsedAt: this.now() };
    this.sessions.set(id, entry);
    while (this.sessions.size > this.limits.maxSessions) this.sessions.delete(this.sessions.keys().next().value as string);
    return entry;
  }

  /** The live session of that id, marked as used now; undefined when unknown, expired or evicted. */
  use(id: string): UiaSession | undefined {
    this.pruneExpired();
    const session = this.sessions.get(id);
    if (!session) return undefined;
    this.sessions.delete(id);
    session.lastUsedAt = this.now();
    this.sessions.set(id, session);
    return session;
  }

  /** Looks without counting as use (reading an endpoint's data before the session is checked). */
  peek(id: string): UiaSession | undefined {
    const session = this.sessions.get(id);
    return session && !this.isExpired(session) ? session : undefined;
  }

  delete(id: string): void {
    this.sessions.delete(id);
  }

  get size(): number {
    return this.sessions.size;
  }

  private isExpired(session: UiaSession): boolean {
    return this.now() - session.lastUsedAt > this.limits.idleLifetimeMs;
  }

  private pruneExpired(): void {
    for (const [id, session] of this.sessions) {
      if (!this.isExpired(session)) break;
      this.sessions.delete(id);
    }
  }
}
