/**
 * Presence (client-server-api modules/presence.md): whether each local user is online, idle
 * (`unavailable`) or offline, when they were last active, and their status message.
 *
 * Presence is ephemeral: it lives in memory only (no database write per change) and after a
 * restart everyone is offline until they sync again. Each visible change takes the notifier's next
 * ephemeral serial, which wakes `/sync`; a sync token carries that serial, so a sync sends the
 * `m.presence` events of users whose serial lies in (token, now]. See docs/notifications.md.
 *
 * Automatic transitions follow Synapse's timers:
 *  - a syncing client keeps its user online (`set_presence`, default `online`);
 *  - no activity for `idleMs` (5 min): online -> unavailable ("Idle timeout");
 *  - no sync running and none for `syncGoneMs` (30 s) after the last one ended: -> offline;
 *  - activity (sending an event, setting `online`) brings an unavailable user back online.
 */
import type { StreamNotifier } from '../stream/notifier.js';

export type PresenceState = 'online' | 'unavailable' | 'offline';
export const PRESENCE_STATES: readonly PresenceState[] = ['online', 'unavailable', 'offline'];

export function isPresenceState(value: unknown): value is PresenceState {
  return typeof value === 'string' && (PRESENCE_STATES as readonly string[]).includes(value);
}

export interface PresenceTimeouts {
  /** Online users inactive this long become unavailable (Synapse IDLE_TIMER). */
  idleMs: number;
  /** Users with no sync running for this long become offline (Synapse SYNC_ONLINE_TIMEOUT). */
  syncGoneMs: number;
  /** Activity this recent is reported as `currently_active` (Synapse LAST_ACTIVE_GRANULARITY). */
  currentlyActiveMs: number;
  /** How often the timers are checked. */
  checkIntervalMs: number;
}

/** Remote users kept at most (the oldest update goes first): another server cannot fill memory. */
const MAX_REMOTE_USERS = 5_000;
/** A remote user not heard of for this long is taken offline (Synapse's FEDERATION_TIMEOUT). */
const REMOTE_SILENCE_MS = 30 * 60_000;

const DEFAULT_PRESENCE_TIMEOUTS: PresenceTimeouts = {
  idleMs: 5 * 60_000,
  syncGoneMs: 30_000,
  currentlyActiveMs: 60_000,
  checkIntervalMs: 5_000,
};

/** The content of an `m.presence` event and of GET /presence/{userId}/status. */
export type PresenceContent = {
  presence: PresenceState;
  last_active_ago?: number;
  currently_active?: boolean;
  status_msg?: string;
};

export interface PresenceEvent {
  type: 'm.presence';
  sender: string;
  content: PresenceContent;
}

export interface PresenceDeps {
  notifier: Pick<StreamNotifier, 'notifyEphemeral' | 'ephemeral'>;
  /** Rooms the user is joined to: presence is visible to users who share one. */
  joinedRoomsOf(userId: string): Promise<Set<string>>;
  now?: () => number;
  timeouts?: Partial<PresenceTimeouts>;
}

interface UserPresence {
  userId: string;
  /** A user of another server, as its server last told us (server-server "Presence"): no timers of ours. */
  remote?: { currentlyActive: boolean | undefined; receivedTs: number };
  state: PresenceState;
  statusMsg: string | undefined;
  /** Last pro-active event ("Last active ago"); undefined until there was one. */
  lastActiveTs: number | undefined;
  /** When the user was last seen by a sync (its end) or a status change. */
  lastSeenTs: number;
  /** Sync requests of the user running now. */
  activeSyncs: number;
  /** `currently_active` as last announced, to notice when it flips. */
  announcedActive: boolean;
  /** Ephemeral serial of the last change clients must hear about. */
  serial: number;
}

export class PresenceService {
  private readonly users = new Map<string, UserPresence>();
  private readonly now: () => number;
  private readonly timeouts: PresenceTimeouts;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(userId: string, content: PresenceContent) => void>();
  /** Remote users in the order of their last update (oldest first), for the bound. */
  private readonly remoteOrder = new Set<string>();

  constructor(private readonly deps: PresenceDeps) {
    this.now = deps.now ?? Date.now;
    this.timeouts = { ...DEFAULT_PRESENCE_TIMEOUTS, ...deps.timeouts };
  }

  /** Starts the timeout checks. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.checkTimeouts(), this.timeouts.checkIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * PUT /presence/{userId}/status: sets the state and status message (a missing message clears
   * it, as in Synapse). Setting `online` is activity ("Last active ago").
   */
  setStatus(userId: string, presence: PresenceState, statusMsg?: string): void {
    const user = this.record(userId);
    const now = this.now();
    user.lastSeenTs = now;
    if (presence === 'online') user.lastActiveTs = now;
    user.state = presence;
    user.statusMsg = statusMsg;
    this.announce(user);
  }

  /**
   * A remote user's presence as their server sent it (`m.presence` EDU). Only a visible change
   * wakes `/sync`; the user is dropped to offline after REMOTE_SILENCE_MS without news.
   */
  setRemote(userId: string, content: PresenceContent): void {
    const now = this.now();
    let user = this.users.get(userId);
    if (user && !user.remote) return; // never one of ours
    if (!user) {
      user = this.record(userId);
      if (this.remoteOrder.size >= MAX_REMOTE_USERS) {
        const oldest = this.remoteOrder.values().next().value as string;
        this.remoteOrder.delete(oldest);
        this.users.delete(oldest);
      }
    }
    this.remoteOrder.delete(userId);
    this.remoteOrder.add(userId);
    const before = JSON.stringify(user.remote ? this.contentOf(user) : undefined);
    user.remote = { currentlyActive: content.currently_active, receivedTs: now };
    user.state = content.presence;
    user.statusMsg = content.status_msg;
    user.lastSeenTs = now;
    user.lastActiveTs = content.last_active_ago === undefined ? undefined : now - content.last_active_ago;
    if (JSON.stringify(this.contentOf(user)) !== before) this.announce(user);
  }

  /** Calls `listener` on every change of a local user's presence (federation sends it on). */
  onChange(listener: (userId: string, content: PresenceContent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The user's presence now, as GET /presence/{userId}/status returns it. */
  statusOf(userId: string): PresenceContent {
    const user = this.users.get(userId);
    return user ? this.contentOf(user) : { presence: 'offline' };
  }

  /**
   * A sync request of the user starts (`set_presence`, default `online`); call the returned
   * function when it ends.
   * - `online` brings an offline user online; an unavailable (idle) one stays unavailable until
   *   they are active, as syncing alone is not activity;
   * - `unavailable` marks the user unavailable;
   * - `offline` leaves the presence as it is ("the client is not marked as being online").
   */
  userSyncing(userId: string, setPresence: PresenceState = 'online'): () => void {
    const user = this.record(userId);
    user.activeSyncs++;
    if (setPresence === 'online' && user.state === 'offline') {
      user.state = 'online';
      user.lastActiveTs = this.now();
      this.announce(user);
    } else if (setPresence === 'unavailable' && user.state !== 'unavailable') {
      user.state = 'unavailable';
      this.announce(user);
    }
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      user.activeSyncs--;
      user.lastSeenTs = this.now();
    };
  }

  /** A pro-active event of the user (they sent an event): bumps last active; idle users come back online. */
  markActive(userId: string): void {
    const user = this.users.get(userId);
    // Users who never synced (e.g. the gateway's device users) have no presence to keep; remote users' is their server's.
    if (!user || user.remote) return;
    user.lastActiveTs = this.now();
    if (user.state === 'unavailable') {
      user.state = 'online';
      this.announce(user);
    } else if (user.state === 'online' && !user.announcedActive) {
      this.announce(user);
    }
  }

  /**
   * The timers, for every known user:
   * 1. no sync running, and the last one ended more than `syncGoneMs` ago: offline;
   * 2. online and inactive for more than `idleMs`: unavailable;
   * 3. online and `currently_active` no longer true: announce it once.
   */
  checkTimeouts(): void {
    const now = this.now();
    for (const user of this.users.values()) {
      if (user.remote) {
        if (user.state !== 'offline' && now - user.remote.receivedTs > REMOTE_SILENCE_MS) {
          user.state = 'offline';
          this.announce(user);
        }
        continue;
      }
      // 1.
      if (user.state !== 'offline' && user.activeSyncs === 0 && now - user.lastSeenTs > this.timeouts.syncGoneMs) {
        user.state = 'offline';
        this.announce(user);
        continue;
      }
      if (user.state !== 'online') continue;
      const inactiveFor = now - (user.lastActiveTs ?? 0);
      // 2.
      if (inactiveFor > this.timeouts.idleMs) {
        user.state = 'unavailable';
        this.announce(user);
      } else if (user.announcedActive && inactiveFor > this.timeouts.currentlyActiveMs) {
        // 3.
        this.announce(user);
      }
    }
  }

  /** Whether `viewer` may see `target`'s presence: themself, or someone sharing a joined room. */
  async canSee(viewerId: string, targetId: string): Promise<boolean> {
    if (viewerId === targetId) return true;
    const [mine, theirs] = await Promise.all([this.deps.joinedRoomsOf(viewerId), this.deps.joinedRoomsOf(targetId)]);
    for (const roomId of mine) if (theirs.has(roomId)) return true;
    return false;
  }

  /**
   * The `m.presence` events of a sync for `viewerId`: users they may see whose presence changed in
   * the ephemeral window (since, to], or every known one when `since` is undefined (initial sync)
   * or ahead of the notifier (a token from before a restart: the serial started again). The users
   * of `newlyShared` (members of rooms the viewer just joined) come whenever their presence changed:
   * the viewer has not seen it yet.
   */
  async eventsFor(viewerId: string, since: number | undefined, to: number, newlyShared: readonly string[] = []): Promise<PresenceEvent[]> {
    const everything = since === undefined || since > this.deps.notifier.ephemeral;
    const unseen = new Set(newlyShared);
    const changed = [...this.users].filter(([userId, user]) => everything || (user.serial > since && user.serial <= to) || unseen.has(userId));
    if (changed.length === 0) return [];
    const mine = await this.deps.joinedRoomsOf(viewerId);
    const events: PresenceEvent[] = [];
    for (const [userId, user] of changed) {
      if (userId !== viewerId && !(await this.sharesAny(mine, userId))) continue;
      events.push({ type: 'm.presence', sender: userId, content: this.contentOf(user) });
    }
    return events;
  }

  private async sharesAny(rooms: Set<string>, userId: string): Promise<boolean> {
    for (const roomId of await this.deps.joinedRoomsOf(userId)) if (rooms.has(roomId)) return true;
    return false;
  }

  private record(userId: string): UserPresence {
    let user = this.users.get(userId);
    if (!user) {
      user = { userId, state: 'offline', statusMsg: undefined, lastActiveTs: undefined, lastSeenTs: this.now(), activeSyncs: 0, announcedActive: false, serial: 0 };
      this.users.set(userId, user);
    }
    return user;
  }

  private isCurrentlyActive(user: UserPresence): boolean {
    if (user.remote) return user.state === 'online' && user.remote.currentlyActive === true;
    return user.state === 'online' && user.lastActiveTs !== undefined && this.now() - user.lastActiveTs <= this.timeouts.currentlyActiveMs;
  }

  /** A change clients must hear about: take the next ephemeral serial (wakes /sync). */
  private announce(user: UserPresence): void {
    user.announcedActive = this.isCurrentlyActive(user);
    this.deps.notifier.notifyEphemeral();
    user.serial = this.deps.notifier.ephemeral;
    if (user.remote) return;
    const content = this.contentOf(user);
    for (const listener of this.listeners) {
      try {
        listener(user.userId, content);
      } catch {
        // Presence is best effort: a failing listener changes nothing here.
      }
    }
  }

  private contentOf(user: UserPresence): PresenceContent {
    const content: PresenceContent = { presence: user.state };
    if (user.lastActiveTs !== undefined) content.last_active_ago = Math.max(0, this.now() - user.lastActiveTs);
    if (user.state === 'online') content.currently_active = this.isCurrentlyActive(user);
    if (user.statusMsg !== undefined) content.status_msg = user.statusMsg;
    return content;
  }
}
