/**
 * `/sync` (client-server-api "Syncing"): builds the response from the global stream.
 *
 * - Initial sync (no `since`) or `full_state`: every room of the user with its current state (as of
 *   the start of the returned timeline) and the newest `limit` timeline events.
 * - Incremental: the stream entries in (since, now] for the user's rooms; a room joined within the
 *   window is sent like an initial one; a gap larger than the limit is `limited` with the state
 *   changes that happened in it.
 * - Long-poll: an empty incremental response waits on the notifier up to `timeout` and retries.
 *
 * Account data, to-device messages, receipts and typing come from their own stores through
 * {@link SyncSources}, keyed by the same global stream positions; presence is kept in memory by its
 * service, unread notification counts are stored with the events (docs/notifications.md).
 */
import { STRIPPED_STATE_TYPES } from './stripped-state.js';
import { syncRoomSummary } from './sync-summary.js';
import type { JsonObject } from '../core/types.js';
import { stateKey } from '../core/types.js';
import type { RoomEngine, StoredEvent, StoredStateMap, UserRoomEntry } from './engine.js';
import type { ClientEvent, EventFormatter, Viewer } from './client-event.js';
import { matchesEventFilter, projectFields, roomAllowed, type SyncFilter } from './filter.js';
import type { StreamNotifier } from '../stream/notifier.js';
import { TimelineReader } from './timeline.js';
import type { IgnoredUsersLookup } from './visibility.js';
import { formatPaginationToken, formatSyncToken, type SyncToken } from './tokens.js';
import type { PresenceState } from '../presence/presence.js';
import { membersNeededFor, SentMembers } from './lazy-members.js';

export interface BasicEvent {
  type: string;
  content: JsonObject;
}

/** `unread_notifications` of a room (or of one thread). */
interface UnreadCountsJson {
  notification_count: number;
  highlight_count: number;
}

/** The non-room-event streams /sync includes, provided by their stores. */
export interface SyncSources {
  /** Changes in (from, to]; everything (with the push rules) when `from` is undefined: an initial sync. */
  accountDataSince(userId: string, from: number | undefined, to: number): Promise<{ global: BasicEvent[]; rooms: Map<string, BasicEvent[]> }>;
  toDeviceSince(userId: string, deviceId: string, from: number, to: number): Promise<(BasicEvent & { sender: string })[]>;
  /** Called when a client syncs with `since`: everything up to it was received and may be deleted. */
  acknowledgeToDevice(userId: string, deviceId: string, upTo: number): Promise<void>;
  /** `m.receipt` content per room; private receipts only of `viewerId` itself. */
  receiptsSince(roomIds: string[], from: number, to: number, viewerId: string): Promise<Map<string, JsonObject>>;
  typingFor(roomId: string): string[];
  /** Whether a room's typing users changed after a token's ephemeral serial. */
  typingChangedSince(roomId: string, serial: number): boolean;
  /** E2EE "Extensions to /sync": users whose device lists changed in the window. */
  deviceListsSince(userId: string, from: number, to: number): Promise<{ changed: string[]; left: string[] }>;
  oneTimeKeyCounts(userId: string, deviceId: string): Promise<Record<string, number>>;
  unusedFallbackKeyTypes(userId: string, deviceId: string): Promise<string[]>;
  /** `unread_notifications` of a joined room: notifying and highlighting events since the user's read receipt. */
  unreadCounts(userId: string, roomId: string): Promise<UnreadCountsJson>;
  /** The same split into the main timeline and each thread, for `unread_thread_notifications` filters. */
  threadedUnreadCounts?(userId: string, roomId: string): Promise<{ main: UnreadCountsJson; threads: Record<string, UnreadCountsJson> }>;
  /** Presence: a sync request starts (`set_presence`); the returned function is called when it ends. */
  userSyncing(userId: string, setPresence: PresenceState | undefined): () => void;
  /**
   * `m.presence` events for the syncing user: presence changes in the ephemeral window (since, to],
   * all visible presence when `since` is undefined, and the current presence of `newlyShared`
   * (the members of rooms the user joined in the window) whenever it last changed.
   */
  presenceSince(userId: string, since: number | undefined, to: number, newlyShared?: readonly string[]): Promise<(BasicEvent & { sender: string })[]>;
}

export interface SyncRequest {
  userId: string;
  deviceId: string;
  since?: SyncToken;
  timeoutMs: number;
  fullState: boolean;
  filter: SyncFilter;
  signal?: AbortSignal;
  /** `set_presence`; undefined means `online`. */
  setPresence?: PresenceState;
}

const DEFAULT_TIMELINE_LIMIT = 10;
/** Stream entries considered per incremental pass; beyond it, rooms are marked limited. */
const MAX_STREAM_SCAN = 5000;

export class SyncService {
  private readonly timeline: TimelineReader;
  /** Members sent to each device under lazy loading (client-server "Lazy-loading room members"). */
  private readonly sentMembers = new SentMembers();
  /** For /metrics: `wakeups`, parked long-polls woken by a change; `parked`, long-polls waiting now. */
  readonly stats = { wakeups: 0, parked: 0 };

  constructor(
    private readonly engine: RoomEngine,
    private readonly formatter: EventFormatter,
    private readonly notifier: StreamNotifier,
    private readonly sources: SyncSources,
    private readonly ignoredUsersOf?: IgnoredUsersLookup,
  ) {
    this.timeline = new TimelineReader(engine, ignoredUsersOf);
  }

  /** The newest position readers may rely on. */
  currentPosition(): number {
    return this.notifier.position;
  }

  /** The user's account data events for one room (for `/rooms/{roomId}/initialSync`). */
  async roomAccountData(userId: string, roomId: string): Promise<JsonObject[]> {
    const all = await this.sources.accountDataSince(userId, undefined, this.notifier.position);
    return (all.rooms.get(roomId) ?? []) as unknown as JsonObject[];
  }

  async sync(req: SyncRequest): Promise<JsonObject> {
    const syncEnded = this.sources.userSyncing(req.userId, req.setPresence);
    try {
      return await this.syncUntilChange(req);
    } finally {
      syncEnded();
    }
  }

  private async syncUntilChange(req: SyncRequest): Promise<JsonObject> {
    const deadline = Date.now() + req.timeoutMs;
    if (req.since) await this.sources.acknowledgeToDevice(req.userId, req.deviceId, req.since.position);
    for (;;) {
      const to: SyncToken = { position: this.notifier.position, ephemeral: this.notifier.ephemeral };
      const { body, empty } = await this.build(req, to);
      const remaining = deadline - Date.now();
      if (!empty || !req.since || remaining <= 0 || req.signal?.aborted) return body;
      // A change that settled while the response was being built has already fired its wake-up:
      // look again now rather than park and miss it.
      if (this.notifier.position !== to.position || this.notifier.ephemeral !== to.ephemeral) continue;
      // Nothing new: wait for the next change (or the timeout) and look again. On timeout the token
      // stays at `to`: anything after it was not looked at, so it must not be skipped.
      this.stats.parked++;
      let changed: boolean;
      try {
        changed = await this.notifier.waitForChange(remaining, req.signal);
      } finally {
        this.stats.parked--;
      }
      if (!changed) return body;
      this.stats.wakeups++;
    }
  }

  private async build(req: SyncRequest, to: SyncToken): Promise<{ body: JsonObject; empty: boolean }> {
    const viewer: Viewer = { userId: req.userId, deviceId: req.deviceId };
    const from = req.since?.position ?? 0;
    const roomFilter = req.filter.room;
    const memberships = (await this.engine.roomsOf(req.userId)).filter(
      (m) => !m.forgotten && m.stream <= to.position && roomAllowed(roomFilter, m.roomId),
    );

    // Events of the window, grouped per room (incremental syncs only).
    const windowEvents = new Map<string, StoredEvent[]>();
    let windowTruncated = false;
    if (req.since) {
      const entries = await this.engine.streamRange(from, to.position, MAX_STREAM_SCAN);
      windowTruncated = entries.length >= MAX_STREAM_SCAN;
      const mine = new Set(memberships.map((m) => m.roomId));
      for (const entry of entries) {
        const room = this.engine.roomByShort(entry.roomShort);
        if (!room || !mine.has(room.roomId)) continue;
        const ev = await this.engine.eventByShort(entry.eventShort);
        if (!ev) continue;
        let list = windowEvents.get(room.roomId);
        if (!list) windowEvents.set(room.roomId, (list = []));
        list.push(ev);
      }
    }

    const join: Record<string, JsonObject> = {};
    const invite: Record<string, JsonObject> = {};
    const knock: Record<string, JsonObject> = {};
    const leave: Record<string, JsonObject> = {};
    const accountData = await this.sources.accountDataSince(req.userId, req.since ? from : undefined, to.position);
    const joinedIds = memberships.filter((m) => m.membership === 'join').map((m) => m.roomId);
    const receipts = await this.sources.receiptsSince(joinedIds, req.since ? from : 0, to.position, req.userId);

    const ignored = (await this.ignoredUsersOf?.(req.userId)) ?? new Set<string>();
    const newlyJoined: string[] = [];
    for (const m of memberships) {
      const changedInWindow = !req.since || m.stream > from;
      const events = windowEvents.get(m.roomId) ?? [];
      if (m.membership === 'invite') {
        // client-server "Ignoring Users": "Servers must not send room invites from ignored users to clients."
        if (changedInWindow && !(ignored.size > 0 && ignored.has((await this.engine.getEvent(m.eventId))?.pdu.sender ?? ''))) {
          invite[m.roomId] = { invite_state: { events: await this.strippedState(m) } };
        }
        continue;
      }
      if (m.membership === 'knock') {
        // client-server "Knocking on rooms": the knocker sees the room's stripped state and their knock.
        if (changedInWindow) knock[m.roomId] = { knock_state: { events: await this.strippedState(m) } };
        continue;
      }
      if (m.membership === 'leave' || m.membership === 'ban') {
        // Leaves appear once, in the sync that crosses them (initial syncs only with include_leave).
        if (!req.since && !roomFilter?.include_leave) continue;
        if (!changedInWindow) continue;
        // Left while this client followed the room: the events up to the leave, as any incremental
        // sync (Synapse likewise); only a room it did not follow comes with its whole state.
        const followed = req.since !== undefined && !req.fullState && (await this.stayedJoinedSince(req.userId, m, from, events, 'before the leave'));
        leave[m.roomId] = await this.roomSection(req, viewer, m, from, m.stream, events, !followed || windowTruncated);
        continue;
      }
      if (m.membership !== 'join') continue;
      // A new join brings the room whole; a member's own profile change (join -> join, a new
      // displayname or avatar) moves their membership entry too but is not one: only the change.
      const fresh = !req.since || req.fullState || (m.stream > from && !(await this.stayedJoinedSince(req.userId, m, from, events, 'throughout')));
      if (fresh && req.since) newlyJoined.push(m.roomId);
      const typing = this.sources.typingFor(m.roomId);
      const ephemeral: JsonObject[] = [];
      const typingChanged = req.since !== undefined && this.sources.typingChangedSince(m.roomId, req.since.ephemeral);
      if ((fresh && typing.length > 0) || typingChanged) ephemeral.push({ type: 'm.typing', content: { user_ids: typing } });
      const receipt = receipts.get(m.roomId);
      if (receipt) ephemeral.push({ type: 'm.receipt', content: receipt });
      const roomAccountData = accountData.rooms.get(m.roomId) ?? [];
      if (!fresh && events.length === 0 && ephemeral.length === 0 && roomAccountData.length === 0 && !windowTruncated) continue;
      const section = await this.roomSection(req, viewer, m, from, to.position, events, fresh || windowTruncated);
      // Window events the user does not get (from users they ignore, hidden history, removed by the
      // filter) are no news: the room stays out, as in Synapse (client-server "Ignoring Users").
      const shown = section.timeline as { events: unknown[]; limited: boolean };
      if (!fresh && !windowTruncated && shown.events.length === 0 && !shown.limited && ephemeral.length === 0 && roomAccountData.length === 0) continue;
      section.ephemeral = { events: ephemeral as unknown as JsonObject[] };
      section.account_data = { events: roomAccountData as unknown as JsonObject[] };
      if (req.filter.room?.timeline?.unread_thread_notifications && this.sources.threadedUnreadCounts) {
        const { main, threads } = await this.sources.threadedUnreadCounts(req.userId, m.roomId);
        section.unread_notifications = { ...main };
        section.unread_thread_notifications = Object.fromEntries(Object.entries(threads).map(([root, counts]) => [root, { ...counts }]));
      } else {
        section.unread_notifications = { ...(await this.sources.unreadCounts(req.userId, m.roomId)) };
      }
      join[m.roomId] = section;
    }

    const toDevice = await this.sources.toDeviceSince(req.userId, req.deviceId, req.since ? from : 0, to.position);
    // An initial sync reports no device list changes: the client queries everyone's keys anyway.
    const deviceLists = req.since ? await this.sources.deviceListsSince(req.userId, from, to.position) : { changed: [], left: [] };
    const [otkCounts, fallbackTypes] = await Promise.all([
      this.sources.oneTimeKeyCounts(req.userId, req.deviceId),
      this.sources.unusedFallbackKeyTypes(req.userId, req.deviceId),
    ]);
    const globalAccountData = accountData.global.filter((e) => matchesEventFilter(req.filter.account_data, { type: e.type, sender: req.userId }));
    // A room joined in the window brings its members' presence, however old (Synapse
    // `_generate_sync_entry_for_presence`): the user sees it for the first time.
    const newlyShared = await this.joinedMembersOf(newlyJoined, req.userId);
    const presence = (await this.sources.presenceSince(req.userId, req.since?.ephemeral, to.ephemeral, newlyShared)).filter((e) =>
      matchesEventFilter(req.filter.presence, { type: e.type, sender: e.sender }),
    );
    const empty =
      Object.keys(join).length === 0 &&
      Object.keys(invite).length === 0 &&
      Object.keys(knock).length === 0 &&
      Object.keys(leave).length === 0 &&
      globalAccountData.length === 0 &&
      toDevice.length === 0 &&
      presence.length === 0 &&
      deviceLists.changed.length === 0 &&
      deviceLists.left.length === 0;
    const body: JsonObject = {
      next_batch: formatSyncToken(to),
      rooms: { join, invite, leave, knock } as unknown as JsonObject,
      account_data: { events: globalAccountData as unknown as JsonObject[] },
      presence: { events: presence as unknown as JsonObject[] },
      to_device: { events: toDevice as unknown as JsonObject[] },
      device_lists: deviceLists,
      device_one_time_keys_count: otkCounts,
      device_unused_fallback_key_types: fallbackTypes,
    };
    return { body, empty };
  }

  /**
   * One room's timeline and state. `upTo` bounds what the user may see (their leave, for left
   * rooms). `windowEvents` are the room's events in (from, now]; when the room is `fresh` (initial
   * sync, new join, full_state) state is the full state at the start of the timeline.
   */
  private async roomSection(
    req: SyncRequest,
    viewer: Viewer,
    m: UserRoomEntry,
    from: number,
    upTo: number,
    windowEvents: StoredEvent[],
    fresh: boolean,
  ): Promise<JsonObject> {
    const timelineFilter = req.filter.room?.timeline;
    const limit = timelineFilter?.limit ?? DEFAULT_TIMELINE_LIMIT;
    let events: StoredEvent[];
    let limited: boolean;
    const reader = await this.timeline.readerFor(req.userId, m.roomId);
    const visibleWindow: StoredEvent[] = [];
    for (const e of windowEvents) {
      if (e.meta.stream > upTo || !matchesEventFilter(timelineFilter, { type: e.pdu.type, sender: e.pdu.sender, content: e.pdu.content })) continue;
      if (await reader.canSee(e)) visibleWindow.push(e);
    }
    if (!fresh) {
      // The whole window is at hand: `limited` means more events passed the filter than the limit
      // (client-server "Syncing"; Synapse `_load_filtered_recents`); events the filter removed are
      // no gap. The newest `limit` of them, however many others came after.
      events = visibleWindow.slice(Math.max(0, visibleWindow.length - limit));
      limited = visibleWindow.length > limit;
    } else {
      // A fresh room: the newest `limit` events up to `upTo`, regardless of `since`.
      const page = await this.timeline.page(m.roomId, { from: Math.min(upTo, this.notifier.position), dir: 'b', limit, filter: timelineFilter, reader });
      events = page.events.reverse();
      limited = page.next !== undefined;
    }

    const firstStream = events[0]?.meta.stream ?? Math.min(upTo, this.notifier.position) + 1;
    const prevBatch = formatPaginationToken(firstStream - 1);
    const timelineIds = new Set(events.map((e) => e.event_id));

    // State at the start of the timeline, then the changes by its end that the timeline does not
    // show (hidden by history visibility or the filter: members who joined while a rejoining user
    // was away), minus what the client already has. Synapse `_calculate_state` likewise.
    const stateFilter = req.filter.room?.state;
    const lazy = stateFilter?.lazy_load_members === true;
    const needed = lazy ? membersNeededFor(events) : undefined;
    let stateEvents: StoredEvent[] = [];
    if (fresh || limited || (needed && needed.size > 0)) {
      const startState = await this.stateBefore(m.roomId, events[0], firstStream - 1);
      // A joined room ends at its current state (cached); a left one where the user left.
      const endState = upTo >= this.notifier.position ? await this.engine.currentState(m.roomId) : await this.timeline.stateAtPosition(m.roomId, upTo);
      // One event per state key: a change the timeline does not show replaces the key's value at its start.
      const shown = new Map(startState);
      for (const e of endState.values()) {
        if (startState.get(stateKeyOf(e))?.event_id !== e.event_id && !timelineIds.has(e.event_id)) shown.set(stateKeyOf(e), e);
      }
      // What the client had at `since`: only a limited incremental sync sends a delta against it.
      const known = limited && !fresh ? await this.timeline.stateAtPosition(m.roomId, from) : new Map();
      stateEvents = [...shown.values()].filter((e) => {
        if (timelineIds.has(e.event_id)) return false;
        const isMember = e.pdu.type === 'm.room.member';
        const member = e.pdu.state_key ?? '';
        // client-server "Lazy-loading room members": the members of the timeline's senders, whether
        // or not they changed since `since` (the client may never have been sent them), and the
        // user's own on a fresh room. A limited incremental sync also carries every other change
        // of the gap, members included (Synapse disables lazy loading for gappy syncs).
        if (needed && isMember && (needed.has(member) || (fresh && member === req.userId))) return true;
        if (!fresh && !limited) return false;
        if (needed && isMember && fresh) return false;
        return known.get(stateKeyOf(e))?.event_id !== e.event_id;
      });
    }
    const summary = m.membership === 'join' ? await this.summary(m.roomId, req.userId) : undefined;
    if (lazy && Array.isArray(summary?.['m.heroes'])) {
      // The heroes a client names the room after need their member events even when they sent
      // nothing in the timeline (Synapse `compute_summary` adds them under lazy loading), or the
      // room shows raw user ids.
      const current = await this.engine.currentState(m.roomId);
      const present = new Set(stateEvents.map((e) => e.event_id));
      for (const hero of summary['m.heroes'] as string[]) {
        const member = current.get(stateKey('m.room.member', hero));
        if (member && !present.has(member.event_id) && !timelineIds.has(member.event_id)) stateEvents.push(member);
      }
    }
    stateEvents = stateEvents.filter((e) => matchesEventFilter(stateFilter, { type: e.pdu.type, sender: e.pdu.sender }));
    if (lazy && !stateFilter?.include_redundant_members) {
      // Skip the members this device was already sent; an initial sync starts the memory over.
      const sent = this.sentMembers.forDevice(req.userId, req.deviceId, req.since === undefined);
      stateEvents = stateEvents.filter((e) => e.pdu.type !== 'm.room.member' || !sent.wasSent(e));
      for (const e of [...stateEvents, ...events]) sent.remember(e);
    }

    const fields = req.filter.event_fields;
    // Aggregations are bundled only in a `limited` timeline (client-server "Aggregations of child
    // events"): otherwise the client has just seen the children itself.
    const fmt = async (list: StoredEvent[]) =>
      (await this.formatter.formatAll(list, viewer, { omitRoomId: true, aggregations: limited, reader, eventFormat: req.filter.event_format })).map((e) => projectFields<ClientEvent>(e, fields));
    const section: JsonObject = {
      timeline: { events: (await fmt(events)) as unknown as JsonObject[], limited, prev_batch: prevBatch },
      state: { events: (await fmt(stateEvents)) as unknown as JsonObject[] },
    };
    if (summary) section.summary = summary;
    return section;
  }

  /**
   * Whether the user was joined at `from` and stayed joined through the window's membership
   * events of theirs (up to the leave itself for `before the leave`): client-server "Syncing",
   * a room is newly joined only when the user's membership became `join` within the window (a
   * leave and rejoin in it counts, as in Synapse's incremental sync).
   */
  private async stayedJoinedSince(userId: string, m: UserRoomEntry, from: number, windowEvents: readonly StoredEvent[], until: 'throughout' | 'before the leave'): Promise<boolean> {
    const atFrom = (await this.timeline.stateAtPosition(m.roomId, from)).get(stateKey('m.room.member', userId));
    if (atFrom?.pdu.content.membership !== 'join') return false;
    for (const e of windowEvents) {
      if (e.pdu.type !== 'm.room.member' || e.pdu.state_key !== userId) continue;
      if (until === 'before the leave' && e.event_id === m.eventId) break;
      if (e.pdu.content.membership !== 'join') return false;
    }
    return true;
  }

  /** The users joined to any of `roomIds`, but `userId`. */
  private async joinedMembersOf(roomIds: readonly string[], userId: string): Promise<string[]> {
    const members = new Set<string>();
    for (const roomId of roomIds) {
      for (const ev of (await this.engine.currentState(roomId)).values()) {
        if (ev.pdu.type === 'm.room.member' && ev.pdu.content.membership === 'join' && ev.pdu.state_key !== userId) members.add(ev.pdu.state_key ?? '');
      }
    }
    return [...members];
  }

  private async stateBefore(roomId: string, first: StoredEvent | undefined, position: number): Promise<StoredStateMap> {
    if (first) return this.engine.stateAt(first, 'before');
    return this.timeline.stateAtPosition(roomId, position);
  }

  /** client-server "Calculating the display name for a room": heroes and member counts. */
  private async summary(roomId: string, userId: string): Promise<JsonObject> {
    return syncRoomSummary(await this.engine.currentState(roomId), userId);
  }

  private async strippedState(m: UserRoomEntry): Promise<JsonObject[]> {
    // An invite from another server into a room we are not in: the state its server sent.
    const remoteInvite = (await this.engine.getEvent(m.eventId))?.meta.inviteState;
    if (remoteInvite) return remoteInvite;
    const state = await this.engine.currentState(m.roomId);
    const out: JsonObject[] = [];
    for (const ev of state.values()) {
      const keep = STRIPPED_STATE_TYPES.has(ev.pdu.type) || ev.event_id === m.eventId;
      if (!keep) continue;
      out.push({ type: ev.pdu.type, state_key: ev.pdu.state_key ?? '', sender: ev.pdu.sender, content: ev.pdu.content });
    }
    const inviteEvent = await this.engine.getEvent(m.eventId);
    if (inviteEvent && !out.some((e) => e.type === 'm.room.member' && e.state_key === inviteEvent.pdu.state_key)) {
      out.push({ type: 'm.room.member', state_key: inviteEvent.pdu.state_key ?? '', sender: inviteEvent.pdu.sender, content: inviteEvent.pdu.content });
    }
    return out;
  }
}

function stateKeyOf(e: { pdu: { type: string; state_key?: string } }): string {
  return stateKey(e.pdu.type, e.pdu.state_key ?? '');
}
