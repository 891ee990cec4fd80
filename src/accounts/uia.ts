/**
 * User-Interactive Authentication (client-server-api "User-Interactive Authentication API").
 * Sessions live in memory: they are short-lived, and a restart only makes a client start over.
 */
import { ErrCode, MatrixError, badJson } from '../core/errors.js';
import { isJsonObject } from '../core/json-object.js';
import { generateOpaqueId } from './tokens.js';

export type UiaStage = 'm.login.dummy' | 'm.login.password' | 'm.login.registration_token';

export interface UiaFlow {
  stages: UiaStage[];
}

/** What an endpoint demands: the flows it offers, and for password stages whose password counts. */
export interface UiaRequirement {
  /** Names the endpoint: a session started for one operation cannot complete another. */
  purpose: string;
  flows: UiaFlow[];
  /** The account a `m.login.password` stage must prove (the requester on authenticated endpoints). */
  userId?: string;
}

export interface UiaChecks {
  checkPassword(userId: string, password: string): Promise<boolean>;
  /** Maps the `identifier.user` (or legacy `user`) of a password stage to a user id. */
  resolveUser(user: string): string | undefined;
  isValidRegistrationToken(token: string): boolean;
}

interface UiaSession {
  purpose: string;
  userId?: string;
  completed: Set<UiaStage>;
  expiresAt: number;
}

const SESSION_LIFETIME_MS = 30 * 60 * 1000;

export class UserInteractiveAuth {
  private readonly sessions = new Map<string, UiaSession>();

  constructor(private readonly checks: UiaChecks) {}

  /**
   * Runs one round of UIA for a request's `auth` object. Resolves once a whole flow is complete;
   * otherwise throws the 401 the spec prescribes, carrying `flows`, `params`, `session`, `completed`
   * and, after a failed stage, that stage's `errcode`/`error`.
   *
   * 1. No `auth`: start a session and describe the flows.
   * 2. `auth.session` must name a live session of this purpose and user; without one, a stage may
   *    still be attempted directly and a session is started for it.
   * 3. `auth.type` must be a stage of an offered flow; the stage is checked and recorded.
   * 4. When the completed stages cover a flow, the session ends and the request proceeds.
   */
  async authenticate(auth: unknown, requirement: UiaRequirement): Promise<void> {
    this.pruneExpired();
    // 1.
    if (auth === undefined || auth === null) throw this.challenge(this.startSession(requirement), requirement);
    if (!isJsonObject(auth)) throw badJson('auth must be an object');
    const a = auth as Record<string, unknown>;
    // 2.
    let sessionId: string;
    if (a.session === undefined) {
      sessionId = this.startSession(requirement);
    } else {
      if (typeof a.session !== 'string') throw badJson('auth.session must be a string');
      const existing = this.sessions.get(a.session);
      if (!existing || existing.purpose !== requirement.purpose || existing.userId !== requirement.userId) {
        throw new MatrixError(400, ErrCode.UNKNOWN, 'Unknown or expired UIA session');
      }
      sessionId = a.session;
    }
    const session = this.sessions.get(sessionId)!;
    // 3.
    if (a.type !== undefined) {
      const stage = a.type;
      if (typeof stage !== 'string' || !requirement.flows.some((f) => f.stages.includes(stage as UiaStage))) {
        throw this.challenge(sessionId, requirement, new MatrixError(400, ErrCode.UNRECOGNIZED, `Unsupported auth stage ${String(stage)}`));
      }
      const failure = await this.checkStage(stage as UiaStage, a, requirement);
      if (failure) throw this.challenge(sessionId, requirement, failure);
      session.completed.add(stage as UiaStage);
    }
    // 4.
    if (requirement.flows.some((f) => f.stages.every((s) => session.completed.has(s)))) {
      this.sessions.delete(sessionId);
      return;
    }
    throw this.challenge(sessionId, requirement);
  }

  private async checkStage(stage: UiaStage, auth: Record<string, unknown>, requirement: UiaRequirement): Promise<MatrixError | undefined> {
    switch (stage) {
      case 'm.login.dummy':
        return undefined;
      case 'm.login.registration_token': {
        // client-server-api "Token-authenticated registration".
        const token = auth.token;
        if (typeof token !== 'string') return new MatrixError(400, ErrCode.MISSING_PARAM, 'Missing token');
        return this.checks.isValidRegistrationToken(token) ? undefined : new MatrixError(401, ErrCode.FORBIDDEN, 'Invalid registration token');
      }
      case 'm.login.password': {
        // client-server-api "Password-based": the identifier must name the account being authorised.
        const identifier = auth.identifier as Record<string, unknown> | undefined;
        const user = identifier?.type === 'm.id.user' ? identifier.user : auth.user;
        const password = auth.password;
        if (typeof user !== 'string' || typeof password !== 'string') {
          return new MatrixError(400, ErrCode.MISSING_PARAM, 'Password stage needs identifier.user and password');
        }
        const userId = this.checks.resolveUser(user);
        const ok = userId !== undefined && userId === requirement.userId && (await this.checks.checkPassword(userId, password));
        return ok ? undefined : new MatrixError(401, ErrCode.FORBIDDEN, 'Invalid password');
      }
    }
  }

  private startSession(requirement: UiaRequirement): string {
    const id = generateOpaqueId();
    this.sessions.set(id, {
      purpose: requirement.purpose,
      ...(requirement.userId !== undefined ? { userId: requirement.userId } : {}),
      completed: new Set(),
      expiresAt: Date.now() + SESSION_LIFETIME_MS,
    });
    return id;
  }

  private challenge(sessionId: string, requirement: UiaRequirement, failure?: MatrixError): MatrixError {
    const completed = [...(this.sessions.get(sessionId)?.completed ?? [])];
    const body = {
      flows: requirement.flows,
      params: {},
      session: sessionId,
      ...(completed.length > 0 ? { completed } : {}),
    };
    return new UiaChallenge(body, failure);
  }

  private pruneExpired(): void {
    const now = Date.now();
    for (const [id, s] of this.sessions) if (s.expiresAt < now) this.sessions.delete(id);
  }
}

/**
 * The 401 of "User-interactive API in the REST API": `flows`, `params`, `session`, `completed`, and
 * `errcode`/`error` only after a failed stage (a plain challenge carries none).
 */
export class UiaChallenge extends MatrixError {
  constructor(
    readonly body: { flows: UiaFlow[]; params: Record<string, unknown>; session: string; completed?: UiaStage[] },
    private readonly failure?: MatrixError,
  ) {
    super(401, failure?.errcode ?? ErrCode.UNAUTHORIZED, failure?.message ?? 'Additional authentication required', body);
  }

  override toJSON(): Record<string, unknown> {
    return this.failure ? { errcode: this.failure.errcode, error: this.failure.message, ...this.body } : { ...this.body };
  }
}
