/**
 * Lazy-loading room members on /sync (client-server "Lazy-loading room members"): which member
 * events a room section needs, and a per-device memory of those already sent so that incremental
 * syncs skip them ("the server MAY assume that clients will remember membership events they have
 * already been sent"). Follows Synapse's handlers/sync.py `compute_state_delta` and its
 * `lazy_loaded_members_cache`: in memory, bounded, forgotten on an initial sync.
 */
import { LruCache } from '../storage/lru.js';
import type { StoredEvent } from './engine.js';

/** Members remembered per device (Synapse: LAZY_LOADED_MEMBERS_CACHE_MAX_SIZE). */
const MEMBERS_PER_DEVICE = 100;
/** Devices remembered; a device pushed out is sent its members again, which the spec allows. */
const DEVICES = 1024;

/**
 * The users whose member event the client needs to display the timeline: each sender, unless a
 * member event of theirs came earlier in the same timeline (the client layers timeline state over
 * `state` as it goes). An event that is itself the sender's membership still asks for the one
 * before it, as Synapse does.
 */
export function membersNeededFor(timeline: readonly StoredEvent[]): Set<string> {
  const needed = new Set<string>();
  const membersInTimeline = new Set<string>();
  for (const e of timeline) {
    if (!membersInTimeline.has(e.pdu.sender)) needed.add(e.pdu.sender);
    if (e.pdu.type === 'm.room.member' && e.pdu.state_key !== undefined) membersInTimeline.add(e.pdu.state_key);
  }
  return needed;
}

/** What one device was sent: member event id per (room, member). */
export class DeviceSentMembers {
  private readonly sent = new LruCache<string, string>(MEMBERS_PER_DEVICE);

  /** Whether this device was already sent this very member event. */
  wasSent(e: StoredEvent): boolean {
    return this.sent.get(keyOf(e)) === e.event_id;
  }

  remember(e: StoredEvent): void {
    if (e.pdu.type === 'm.room.member') this.sent.set(keyOf(e), e.event_id);
  }
}

/** Keyed by room too (Synapse keys by member only): a member of two rooms has two member events. */
function keyOf(e: StoredEvent): string {
  return `${e.room_id}\u0000${e.pdu.state_key ?? ''}`;
}

export class SentMembers {
  private readonly devices = new LruCache<string, DeviceSentMembers>(DEVICES);

  /** The memory of one device; `fresh` (an initial sync) starts it over: the client has forgotten. */
  forDevice(userId: string, deviceId: string, fresh: boolean): DeviceSentMembers {
    const key = `${userId}\u0000${deviceId}`;
    let memory = fresh ? undefined : this.devices.get(key);
    if (!memory) this.devices.set(key, (memory = new DeviceSentMembers()));
    return memory;
  }
}
