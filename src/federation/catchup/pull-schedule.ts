/**
 * Pull mode (issue 12 "Behind NAT"): a gateway behind NAT cannot be reached by other servers, so
 * their pushes never arrive; outgoing requests still work. Every `intervalMs` this asks each server
 * we share a room with for what it has that we lack (`RoomCatchUp.pull`: `timestamp_to_event`, then
 * the `get_missing_events` walk), one server at a time. Our own events still go out by push.
 *
 * Off unless `federation.pull_interval_seconds` is set. While a local client is syncing (someone is
 * looking at the rooms) the rounds come every `activeIntervalMs` instead (issue 12: "faster while a
 * local client is syncing"): the timer ticks at the shorter interval and a round runs once the
 * interval that applies at that tick has passed since the last one, so a client that starts syncing
 * is served within one short interval, not after the rest of a long one. A peer accepts our requests only while it
 * holds an unexpired copy of our signing key (we publish 7 days of validity): the first contact
 * needs our listener reachable (docs/federation.md "Offline").
 */
import type { Logger } from 'pino';
import type { CursorTimers } from '../../stream/stream-cursor.js';

export interface PullScheduleDeps {
  /** Between rounds while no local client is syncing; 0: pull mode off. */
  intervalMs: number;
  /** Between rounds while one is (`clientActive`); absent, 0 or not shorter: `intervalMs` always. */
  activeIntervalMs?: number;
  /** Is a local client syncing now? (`SyncActivity.isActive`); absent: never. */
  clientActive?: () => boolean;
  /** The servers to ask (those we share a room with). */
  servers(): Promise<string[]>;
  pull(server: string): Promise<unknown>;
  log: Logger;
  timers?: CursorTimers;
}

const realTimers: CursorTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class PullSchedule {
  private timer: unknown;
  private stopped = false;
  private running: Promise<void> | undefined;
  private readonly timers: CursorTimers;
  /** Time since the last round ended, counted in ticks. */
  private sinceRoundMs = 0;
  /** Completed rounds (status and tests). */
  rounds = 0;

  constructor(private readonly deps: PullScheduleDeps) {
    this.timers = deps.timers ?? realTimers;
  }

  start(): void {
    if (this.deps.intervalMs <= 0 || this.stopped) return;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One round now (also what the timer runs). */
  async runOnce(): Promise<void> {
    let servers: string[] = [];
    try {
      servers = await this.deps.servers();
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'pull mode: could not list the servers to ask');
    }
    for (const server of servers) {
      if (this.stopped) break;
      try {
        await this.deps.pull(server);
      } catch (err) {
        this.deps.log.info({ server, err: (err as Error).message }, 'pull mode: could not pull from a server');
      }
    }
    this.rounds++;
  }

  /** The shorter interval when there is one: the tick, and the wait while a client syncs. */
  private get activeIntervalMs(): number {
    const active = this.deps.activeIntervalMs ?? 0;
    return active > 0 && active < this.deps.intervalMs ? active : this.deps.intervalMs;
  }

  /** The wait before the next round, as things are now. */
  currentIntervalMs(): number {
    return this.deps.clientActive?.() ? this.activeIntervalMs : this.deps.intervalMs;
  }

  private schedule(): void {
    const tickMs = this.activeIntervalMs;
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.sinceRoundMs += tickMs;
      if (this.sinceRoundMs < this.currentIntervalMs()) {
        this.schedule();
        return;
      }
      this.running = this.runOnce().finally(() => {
        this.running = undefined;
        this.sinceRoundMs = 0;
        if (!this.stopped) this.schedule();
      });
    }, tickMs);
  }
}
