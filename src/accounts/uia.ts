/**
 * User-Interactive Authentication (client-server-api "User-Interactive Authentication API").
 * Sessions live in memory (accounts/uia-sessions.ts, bounded): they are short-lived, and a restart
 * only makes a client start over.
 */
import { ErrCode, MatrixError, badJson, forbidden } from '../core/errors.js';
import { isJsonObject } from '../core/json-object.js';
import { generateOpaqueId } from './tokens.js';
import { UiaSessionStore, type UiaSessionKey, type UiaSessionLimits } from './uia-sessions.js';

export type UiaStage = 'm.login.dummy' | 'm.login.password' | 'm.login.registration_token';

export interface UiaFlow {
  stages: UiaStage[];
}

/** What an endpoint demands: the flows it offers, and for password stages whose password counts. */
export interface UiaRequirement {
  /**
   * The request's method and path (`uiaOperation` of api/client/uia-operation.ts): a session
   * started for one operation cannot complete another (Synapse compares uri and method).
   */
  operation: string;
  flows: UiaFlow[];
  /** The account a `m.login.password` stage must prove (the requester on authenticated endpoints). */
  userId?: string;
  /**
   * Whether the session outlives its completion, so that the same request can be retried with it
   * (registration: "Account registration" makes a retry idempotent, as Synapse does by keeping the
   * registered user id in the session). Otherwise one completed session authorises one request.
   */
  retryable?: boolean;
}

export interface UiaChecks {
  checkPassword(userId: string, password: string): Promise<boolean>;
  /** Maps the `identifier.user` (or legacy `user`) of a password stage to a user id. */
  resolveUser(user: string): string | undefined;
  isValidRegistrationToken(token: string): boolean;
}

/** Synapse's answers, which clients show as they are. */
const WRONG_PASSWORD = 'Invalid username or password';
const OPERATION_CHANGED = 'Requested operation has changed during the UI authentication session.';

export class UserInteractiveAuth {
  private readonly sessions: UiaSessionStore;

  constructor(
    private readonly checks: UiaChecks,
    limits?: UiaSessionLimits,
  ) {
    this.sessions = new UiaSessionStore(limits);
  }

  /**
   * Runs one round of UIA for a request's `auth` object. Resolves with the session id once a whole
   * flow is complete; otherwise throws the 401 the spec prescribes, carrying `flows`, `params`,
   * `session`, `completed` and, after a failed stage, that stage's `errcode`/`error`.
   *
   * 1. No `auth`: start a session and describe the flows.
   * 2. `auth.session` must name a live session (400 otherwise) of this operation and user (403:
   *    Synapse's "Requested operation has changed"); without one, a stage may still be attempted
   *    directly and a session is started for it.
   * 3. `auth.type` must be a stage of an offered flow; the stage is checked and recorded.
   * 4. When the completed stages cover a flow, the request proceeds; the session ends unless the
   *    endpoint's requests are retryable.
   */
  async authenticate(auth: unknown, requirement: UiaRequirement): Promise<string> {
    // 1.
    if (auth === undefined || auth === null) throw this.challenge(this.startSession(requirement), requirement, false);
    if (!isJsonObject(auth)) throw badJson('auth must be an object');
    const a = auth as Record<string, unknown>;
    // 2.
    let sessionId: string;
    if (a.session === undefined) {
      sessionId = this.startSession(requirement);
    } else {
      if (typeof a.session !== 'string') throw badJson('auth.session must be a string');
      const existing = this.sessions.use(a.session);
      if (!existing) throw new MatrixError(400, ErrCode.UNKNOWN, 'Unknown or expired UIA session');
      if (existing.operation !== requirement.operation || existing.userId !== requirement.userId) throw forbidden(OPERATION_CHANGED);
      sessionId = a.session;
    }
    const session = this.sessions.peek(sessionId)!;
    // A challenge answering an `auth` dict lists `completed`, even empty (as Synapse).
    const listCompleted = Object.keys(a).length > 0;
    // 3.
    if (a.type !== undefined) {
      const stage = a.type;
      if (typeof stage !== 'string' || !requirement.flows.some((f) => f.stages.includes(stage as UiaStage))) {
        throw this.challenge(sessionId, requirement, listCompleted, new MatrixError(400, ErrCode.UNRECOGNIZED, `Unsupported auth stage ${String(stage)}`));
      }
      const failure = await this.checkStage(stage as UiaStage, a, requirement);
      if (failure) throw this.challenge(sessionId, requirement, listCompleted, failure);
      session.completed.add(stage as UiaStage);
    }
    // 4.
    if (requirement.flows.some((f) => f.stages.every((s) => session.completed.has(s)))) {
      if (!requirement.retryable) this.sessions.delete(sessionId);
      return sessionId;
    }
    throw this.challenge(sessionId, requirement, listCompleted);
  }

  /** The session an `auth` object names, when it is a string (checked by `authenticate`). */
  sessionIdOf(auth: unknown): string | undefined {
    return isJsonObject(auth) && typeof (auth as Record<string, unknown>).session === 'string' ? ((auth as Record<string, unknown>).session as string) : undefined;
  }

  /** An endpoint's data kept with a live session (nothing once it has expired). */
  getData<T>(sessionId: string, key: UiaSessionKey<T>): T | undefined {
    return this.sessions.peek(sessionId)?.data.get(key.name) as T | undefined;
  }

  setData<T>(sessionId: string, key: UiaSessionKey<T>, value: T): void {
    this.sessions.peek(sessionId)?.data.set(key.name, value);
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
        const ok = userId !== undefined && (await this.checks.checkPassword(userId, password));
        if (!ok) return new MatrixError(401, ErrCode.FORBIDDEN, WRONG_PASSWORD);
        // Right credentials of another account: not a failed stage but a refusal, Synapse's
        // `validate_user_via_ui_auth` "Invalid auth" (403), so the client does not ask again.
        if (userId !== requirement.userId) throw forbidden('Invalid auth');
        return undefined;
      }
    }
  }

  private startSession(requirement: UiaRequirement): string {
    const id = generateOpaqueId();
    this.sessions.add(id, {
      operation: requirement.operation,
      ...(requirement.userId !== undefined ? { userId: requirement.userId } : {}),
    });
    return id;
  }

  private challenge(sessionId: string, requirement: UiaRequirement, listCompleted: boolean, failure?: MatrixError): MatrixError {
    const body = {
      flows: requirement.flows,
      params: {},
      session: sessionId,
      ...(listCompleted ? { completed: [...(this.sessions.peek(sessionId)?.completed ?? [])] } : {}),
    };
    return new UiaChallenge(body, failure);
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
