/**
 * Typing notifications (modules/typing_notifications.md): kept in memory only, as they are
 * ephemeral. Each change wakes `/sync` through the notifier without taking a stream position.
 */
import type { StreamNotifier } from '../stream/notifier.js';

/** Clients usually ask for 30 s; a longer request is capped so a crashed client does not type forever. */
const MAX_TIMEOUT_MS = 120_000;
const DEFAULT_TIMEOUT_MS = 30_000;

export class TypingManager {
  /** room id -> user id -> expiry timer. */
  private readonly rooms = new Map<string, Map<string, NodeJS.Timeout>>();
  /** room id -> the notifier's ephemeral serial of the room's last typing change. */
  private readonly changedAt = new Map<string, number>();
  private readonly listeners = new Set<(roomId: string, userId: string, typing: boolean) => void>();

  constructor(private readonly notifier: Pick<StreamNotifier, 'notifyEphemeral' | 'ephemeral'>) {}

  /** Starts (for `timeoutMs`) or stops a user's typing notice in a room. */
  setTyping(roomId: string, userId: string, typing: boolean, timeoutMs = DEFAULT_TIMEOUT_MS): void {
    const users = this.rooms.get(roomId) ?? new Map<string, NodeJS.Timeout>();
    const previous = users.get(userId);
    if (previous) clearTimeout(previous);
    // Renewals too (other servers time a notice out after 60 s unless told again); a stop only if one ran.
    if (typing || previous) this.tell(roomId, userId, typing);
    if (typing) {
      const timer = setTimeout(() => this.setTyping(roomId, userId, false), Math.min(Math.max(timeoutMs, 0), MAX_TIMEOUT_MS));
      timer.unref();
      users.set(userId, timer);
      this.rooms.set(roomId, users);
      // Renewing a running notice only moves its expiry; nobody needs waking.
      if (previous) return;
    } else {
      users.delete(userId);
      if (users.size === 0) this.rooms.delete(roomId);
      // Stopping a notice that was not running changes nothing anyone can see.
      if (!previous) return;
    }
    this.notifier.notifyEphemeral();
    this.changedAt.set(roomId, this.notifier.ephemeral);
  }

  /**
   * Whether the room's typing users changed after ephemeral serial `serial` (a sync token's), so a
   * sync sends `m.typing` only for rooms where it changed. Serials restart with the process: a
   * serial from the future is a token from before a restart, and everything counts as changed.
   */
  typingChangedSince(roomId: string, serial: number): boolean {
    if (serial > this.notifier.ephemeral) return true;
    return (this.changedAt.get(roomId) ?? 0) > serial;
  }

  /** The users typing in a room now: the `user_ids` of its `m.typing` event. */
  typingFor(roomId: string): string[] {
    return [...(this.rooms.get(roomId)?.keys() ?? [])];
  }

  /** Calls `listener` for every start, renewal and end of a notice (federation sends local users' on). */
  onChange(listener: (roomId: string, userId: string, typing: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private tell(roomId: string, userId: string, typing: boolean): void {
    for (const listener of this.listeners) {
      try {
        listener(roomId, userId, typing);
      } catch {
        // Typing is best effort: a failing listener changes nothing here.
      }
    }
  }

  /** Clears every timer (gateway shutdown). */
  stop(): void {
    for (const users of this.rooms.values()) for (const timer of users.values()) clearTimeout(timer);
    this.rooms.clear();
    this.changedAt.clear();
  }
}
