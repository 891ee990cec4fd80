/**
 * History visibility applied to what one user reads of one room (client-server "Room History
 * Visibility", "Server behaviour"; the rules are state/history-visibility.ts). Every read of room
 * events for a client - /messages, /context, /event, the /sync timeline - asks a RoomReader.
 *
 * The state at an event comes from its snapshot (meta.stateBefore / stateAfter); messages in a row
 * share one, so a reader looks each snapshot up once.
 */
import { historyVisibilityOf, mayUserSeeEvent, type VisibilityState } from '../state/history-visibility.js';
import type { RoomEngine, StoredEvent } from './engine.js';

/** Bound on walking back through a user's membership events to their last join. */
const MAX_MEMBERSHIP_STEPS = 64;

/** One user's view of one room's history. Build one per request: it caches per snapshot. */
export interface RoomReader {
  canSee(event: StoredEvent): Promise<boolean>;
  /** Stream position of the user's most recent join of the room, if they ever joined. */
  readonly lastJoin: number | undefined;
}

/** The users a user ignores (client-server "Ignoring Users": `m.ignored_user_list` account data). */
export type IgnoredUsersLookup = (userId: string) => Promise<ReadonlySet<string>>;

const NOBODY: ReadonlySet<string> = new Set();

/**
 * `ignored`: senders whose events the user does not get ("the client will no longer receive events
 * sent by that user, with the exception of state events").
 */
export async function roomReaderFor(engine: RoomEngine, userId: string, roomId: string, ignored: ReadonlySet<string> = NOBODY): Promise<RoomReader> {
  const entry = await engine.membershipEntry(userId, roomId);
  // While the user is joined, everything after their join they saw as a member (step 2).
  const joinedSince = entry?.membership === 'join' ? entry.stream : undefined;
  const lastJoin = await lastJoinStream(engine, entry);
  const keys = [['m.room.history_visibility', ''], ['m.room.member', userId]] as const;
  const states = new Map<number, Promise<VisibilityState>>();

  const stateAt = (snapshot: number): Promise<VisibilityState> => {
    let state = states.get(snapshot);
    if (!state) {
      state = (async () => {
        const [historyEvent, memberEvent] = await engine.stateEventsAt(snapshot, keys);
        const membership = memberEvent?.pdu.content.membership;
        return { visibility: historyVisibilityOf(historyEvent?.pdu.content), membership: typeof membership === 'string' ? membership : undefined };
      })();
      states.set(snapshot, state);
    }
    return state;
  };

  return {
    lastJoin,
    async canSee(event: StoredEvent): Promise<boolean> {
      if (event.room_id !== roomId) return false;
      if (ignored.size > 0 && ignored.has(event.pdu.sender) && event.pdu.state_key === undefined) return false;
      if (joinedSince !== undefined && event.meta.stream > joinedSince) return true;
      const { pdu } = event;
      const judgedOnBothSides =
        (pdu.type === 'm.room.history_visibility' && pdu.state_key === '') || (pdu.type === 'm.room.member' && pdu.state_key === userId);
      const before = await stateAt(event.meta.stateBefore);
      const after = judgedOnBothSides ? await stateAt(event.meta.stateAfter) : undefined;
      return mayUserSeeEvent(before, after, lastJoin !== undefined && lastJoin > event.meta.stream);
    },
  };
}

/** Stream position of the user's most recent join of the room (step 3 asks whether one came after an event). */
async function lastJoinStream(engine: RoomEngine, entry: { membership: string; eventId: string; stream: number } | undefined): Promise<number | undefined> {
  if (!entry) return undefined;
  if (entry.membership === 'join') return entry.stream;
  let eventId: string | undefined = entry.eventId;
  for (let step = 0; eventId !== undefined && step < MAX_MEMBERSHIP_STEPS; step++) {
    const event = await engine.getEvent(eventId);
    if (!event) return undefined;
    if (event.pdu.content.membership === 'join') return event.meta.stream;
    eventId = event.meta.replaces;
  }
  return undefined;
}
