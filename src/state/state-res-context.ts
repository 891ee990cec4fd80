/**
 * What every step of state resolution needs: the events, the room version's rules, and which
 * events were rejected. Plus the one state every step derives from an event: the state its own
 * `auth_events` form.
 */
import type { RoomEvent, StateEventMap } from '../core/types.js';
import type { RoomVersionRules } from '../core/room-versions.js';
import { authEventIds } from '../core/event-references.js';
import type { EventLookup } from './auth-dag.js';
import { CREATE_KEY, stateMapOf } from './room-state.js';

export interface ResolutionContext {
  getEvent: EventLookup;
  rules: RoomVersionRules;
  /** Whether an event was rejected; rejected auth events are never used (rooms/v2 "Rejected events"). */
  isRejected: (eventId: string) => boolean;
}

/** The event with this id; state resolution only visits events it was given, so a gap is a bug of the caller. */
export function requireEvent(eventId: string, ctx: ResolutionContext): RoomEvent {
  const event = ctx.getEvent(eventId);
  if (!event) throw new Error(`state resolution needs event ${eventId}, which getEvent does not provide`);
  return event;
}

/**
 * The state formed by an event's non-rejected `auth_events`. In room version 12 the create event
 * is not among them; the room id names it (rooms/v12 auth rule 2), so it is added from there.
 */
export function authStateOfEvent(event: RoomEvent, ctx: ResolutionContext): StateEventMap {
  const authEvents: RoomEvent[] = [];
  for (const id of authEventIds(event.pdu)) {
    const authEvent = ctx.getEvent(id);
    if (authEvent && !ctx.isRejected(id)) authEvents.push(authEvent);
  }
  const state = stateMapOf(authEvents);
  if (!ctx.rules.createEventInAuthEvents && !state.has(CREATE_KEY)) {
    const create = ctx.getEvent(createEventIdOfRoom(event.room_id));
    if (create) state.set(CREATE_KEY, create);
  }
  return state;
}

/** rooms/v12: the room id is the create event's id with `!` in place of `$`. */
function createEventIdOfRoom(roomId: string): string {
  return '$' + roomId.slice(1);
}
