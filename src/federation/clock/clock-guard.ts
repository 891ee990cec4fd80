/**
 * The clock check in service (issue 12 "Offline for days": "refuse to sign or judge key validity
 * with a clock that is obviously wrong, say so in the log and the status, and recover when it is
 * set"). Holds the evidence (`clock-sanity.ts`), judges the clock on every use and on a timer,
 * logs each change once (warn when it goes wrong, info when it is right again), and tells
 * listeners (the sender retries every destination at once when the clock is set).
 *
 * What it guards is federation only: signing requests and key sets, and judging other servers'
 * keys against "now". The Client-Server API, MQTT and local rooms keep working on a wrong clock, as
 * on Synapse (the gateway must serve the home without an uplink).
 */
import { ErrCode, MatrixError } from '../../core/errors.js';
import { judgeClock, type ClockJudgement, type ClockProblem } from './clock-sanity.js';

/** 503 instead of judging or signing with a wrong clock (docs/errors.md). */
export class ClockNotSetError extends MatrixError {
  constructor(reason: string) {
    super(503, ErrCode.UNKNOWN, `This server's clock is not set (${reason}): federation waits until it is`);
    this.name = 'ClockNotSetError';
  }
}

/** What `/health` and `hearth federation status` show. */
export interface ClockStatus {
  sane: boolean;
  /** The clock's reading when last judged (ms). */
  nowMs: number;
  problem?: ClockProblem;
  reason?: string;
  /** Since when (by the clock) it has been judged wrong. */
  wrongSinceMs?: number;
}

export interface ClockLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface ClockTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface ClockGuardDeps {
  floorMs: number;
  /** The newest time this server recorded with a right clock, read at start (the newest own event). */
  newestRecordedMs?: number | undefined;
  log: ClockLog;
  now?: () => number;
  timers?: ClockTimers;
  /** How often the clock is judged without any use: while wrong (to notice it was set) and while right. */
  recheckWrongMs?: number;
  recheckRightMs?: number;
}

const realTimers: ClockTimers = {
  setInterval: (fn, ms) => setInterval(fn, ms).unref(),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

export class ClockGuard {
  private newestRecordedMs: number | undefined;
  private judgement: ClockJudgement = { sane: true };
  private wrongSinceMs: number | undefined;
  private lastNowMs = 0;
  private timer: unknown;
  private timerMs = 0;
  private running = false;
  private readonly listeners = new Set<(sane: boolean) => void>();
  private readonly now: () => number;
  private readonly timers: ClockTimers;

  constructor(private readonly deps: ClockGuardDeps) {
    this.now = deps.now ?? Date.now;
    this.timers = deps.timers ?? realTimers;
    this.newestRecordedMs = deps.newestRecordedMs;
  }

  /** Judges at once (a wrong clock at start is logged) and keeps judging on a timer. */
  start(): void {
    this.running = true;
    this.check();
    this.reschedule();
  }

  stop(): void {
    this.running = false;
    if (this.timer !== undefined) this.timers.clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Judges the clock now; logs and tells listeners when the verdict changed. */
  check(): boolean {
    const nowMs = this.now();
    this.lastNowMs = nowMs;
    const before = this.judgement.sane;
    this.judgement = judgeClock(nowMs, { floorMs: this.deps.floorMs, newestRecordedMs: this.newestRecordedMs });
    const after = this.judgement.sane;
    if (before !== after) this.changed(nowMs);
    return after;
  }

  /** Throws `ClockNotSetError` (503) while the clock is wrong. */
  assertSane(): void {
    if (!this.check()) throw new ClockNotSetError((this.judgement as { reason: string }).reason);
  }

  /** The reason the clock is wrong (one line), or undefined while it is right; judged now. */
  problem(): string | undefined {
    return this.check() ? undefined : (this.judgement as { reason: string }).reason;
  }

  status(): ClockStatus {
    this.check();
    const j = this.judgement;
    return j.sane
      ? { sane: true, nowMs: this.lastNowMs }
      : { sane: false, nowMs: this.lastNowMs, problem: j.problem, reason: j.reason, ...(this.wrongSinceMs !== undefined ? { wrongSinceMs: this.wrongSinceMs } : {}) };
  }

  /**
   * A time this server just recorded (the `origin_server_ts` of an event it signed): evidence that
   * the clock cannot later read much earlier. Kept only while the clock is judged right, so a wrong
   * clock never becomes evidence.
   */
  recorded(tsMs: number): void {
    if (!this.judgement.sane) return;
    if (this.newestRecordedMs === undefined || tsMs > this.newestRecordedMs) this.newestRecordedMs = tsMs;
  }

  /** `fn(sane)` on every change of verdict; returns the unsubscribe. */
  onChange(fn: (sane: boolean) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(nowMs: number): void {
    const j = this.judgement;
    if (!j.sane) {
      this.wrongSinceMs = nowMs;
      this.deps.log.warn({ clockProblem: j.problem, reason: j.reason }, 'the clock is wrong: federation is paused (nothing is signed or judged) until it is set');
    } else {
      this.wrongSinceMs = undefined;
      this.deps.log.info({ clockMs: nowMs }, 'the clock is set: federation resumes');
    }
    this.reschedule();
    for (const fn of this.listeners) {
      try {
        fn(j.sane);
      } catch (err) {
        this.deps.log.warn({ err: (err as Error).message }, 'a clock listener failed');
      }
    }
  }

  /** Often while wrong (to notice it was set), rarely while right (to notice a jump without traffic). */
  private reschedule(): void {
    if (!this.running) return;
    const ms = this.judgement.sane ? (this.deps.recheckRightMs ?? 30_000) : (this.deps.recheckWrongMs ?? 2_000);
    if (this.timer !== undefined && ms === this.timerMs) return;
    this.stop();
    this.running = true;
    this.timerMs = ms;
    this.timer = this.timers.setInterval(() => this.check(), ms);
  }
}
