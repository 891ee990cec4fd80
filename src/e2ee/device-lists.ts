/**
 * Device list tracking (client-server-api "Tracking the device list for a user", "Extensions to
 * /sync"): every change of a user's device keys or cross-signing keys takes a global stream
 * position, so `/sync` and `/keys/changes` can tell a client whose device lists to fetch again.
 */
import type { BatchOp, Database } from '../storage/db.js';
import type { E2eeKeyStore } from '../storage/e2ee.js';
import type { StreamNotifier } from '../stream/notifier.js';
import { KeyedLock } from '../util/keyed-lock.js';

/** One membership of one user in one room, with the stream position of the event that set it. */
export interface MembershipEntry {
  membership: string;
  stream: number;
}

/**
 * Who shares rooms with whom. The gateway backs it with the room engine (see
 * `engineMembershipView`); tests use a fake.
 */
export interface MembershipView {
  /** Every room the user is or was in, with their current membership there. */
  roomsOf(userId: string): Promise<Array<MembershipEntry & { roomId: string }>>;
  /** Every user with a membership in the room (any kind), as of the current state. */
  membersOf(roomId: string): Promise<Array<MembershipEntry & { userId: string }>>;
}

/** What changed a user's device list: federation announces each kind differently. */
export type DeviceListCause =
  /** A device's keys were uploaded, signed or (with `deleted`) removed: `m.device_list_update`. */
  | { kind: 'device'; deviceId: string; deleted?: boolean }
  /** The user's master or self-signing key changed: `m.signing_key_update`. */
  | { kind: 'cross_signing' }
  /** Only the user themself sees it (their user-signing signature on another user's master key). */
  | { kind: 'private' }
  /** A remote user's list, as another server told us (federation's remote device list cache). */
  | { kind: 'remote' };

/** One device list change, as written: `streamId` is its stream position, `prevStreamId` the user's previous device change. */
export interface DeviceListChange {
  userId: string;
  streamId: number;
  prevStreamId: number | undefined;
  cause: DeviceListCause;
}

export interface DeviceListChanges {
  changed: string[];
  left: string[];
}

/** Memberships that end sharing a room. */
const ENDED = new Set(['leave', 'ban']);

export class DeviceListTracker {
  private readonly listeners = new Set<(change: DeviceListChange) => void>();
  /** One change of a user at a time, so each change's `prevStreamId` is the one written just before. */
  private readonly userLock = new KeyedLock();

  constructor(
    private readonly db: Database,
    private readonly keys: E2eeKeyStore,
    private readonly notifier: StreamNotifier,
    private readonly memberships: MembershipView,
  ) {}

  /**
   * Writes `ops` in one batch together with a device list change of `userId` at a fresh stream
   * position; the position is settled (waking `/sync` long-polls) whether or not the write succeeds.
   */
  async writeWithChange(ops: BatchOp[], userId: string, cause: DeviceListCause): Promise<void> {
    const change = await this.userLock.run(userId, async () => {
      const prevStreamId = await this.keys.latestDeviceListChange(userId);
      const position = this.notifier.reserve();
      try {
        // Only device changes form the chain of `prev_id`s other servers follow; they learn of cross-signing keys otherwise.
        this.keys.appendDeviceListChangeTxn(ops, position, userId, cause.kind === 'device');
        await this.db.write(ops);
      } finally {
        this.notifier.settle(position);
      }
      return { userId, streamId: position, prevStreamId, cause };
    });
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch {
        // A listener (federation) must never undo or fail a change already written.
      }
    }
  }

  /** Calls `listener` after every written change (federation sends local users' changes on). */
  onChange(listener: (change: DeviceListChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The position of the user's latest device change (the `stream_id` of `user/devices`), 0 before any. */
  async latestStreamId(userId: string): Promise<number> {
    return (await this.keys.latestDeviceListChange(userId)) ?? 0;
  }

  /**
   * `device_lists` for `userId` over the stream window `(from, to]`:
   *  1. the users whose device list changed in the window (the stream of changes);
   *  2. the users sharing a joined room with `userId` now, `userId` included;
   *  3. changed = users of (1) that share a room, plus users who newly share one: every member of a
   *     room `userId` joined in the window, and every user who joined a shared room in the window
   *     (the note under "Extensions to /sync" allows reporting a new shared room even when another
   *     room was shared before);
   *  4. left = users whose membership in one of `userId`'s rooms ended in the window, or the members
   *     of a room `userId` left in the window, who no longer share any room with `userId`.
   */
  async since(userId: string, from: number, to: number): Promise<DeviceListChanges> {
    if (to <= from) return { changed: [], left: [] };
    // 1.
    const changedInWindow = await this.keys.deviceListChanges(from, to);
    // 2.
    const shared = new Set<string>([userId]);
    const newlyShared = new Set<string>();
    const possiblyLeft = new Set<string>();
    const inWindow = (stream: number) => stream > from && stream <= to;
    for (const room of await this.memberships.roomsOf(userId)) {
      const ownJoin = room.membership === 'join';
      const ownLeaveInWindow = ENDED.has(room.membership) && inWindow(room.stream);
      // Rooms left before the window, and invites or knocks, contribute nothing.
      if (!ownJoin && !ownLeaveInWindow) continue;
      for (const member of await this.memberships.membersOf(room.roomId)) {
        if (member.userId === userId) continue;
        const memberJoined = member.membership === 'join';
        if (ownJoin && memberJoined) {
          shared.add(member.userId);
          if (inWindow(room.stream) || inWindow(member.stream)) newlyShared.add(member.userId);
        } else if (ownJoin ? ENDED.has(member.membership) && inWindow(member.stream) : memberJoined) {
          possiblyLeft.add(member.userId);
        }
      }
    }
    // 3.
    const changed = new Set<string>(newlyShared);
    for (const user of changedInWindow) if (shared.has(user)) changed.add(user);
    // 4.
    const left = [...possiblyLeft].filter((user) => !shared.has(user));
    return { changed: [...changed], left };
  }
}
