/**
 * Reading the authorisation-relevant parts of a room state (rooms/v10-v12 "Authorisation rules":
 * the state event types that affect authorisation are create, member, join_rules, power_levels
 * and third_party_invite). Pure lookups; no rules are applied here.
 */
import type { RoomEvent, StateEventMap } from '../core/types.js';
import { stateKey } from '../core/types.js';

export const CREATE = 'm.room.create';
export const MEMBER = 'm.room.member';
export const JOIN_RULES = 'm.room.join_rules';
export const POWER_LEVELS = 'm.room.power_levels';
export const THIRD_PARTY_INVITE = 'm.room.third_party_invite';
/** Not auth state, but with a rule of its own in room versions 1-5 (rooms/v1 auth rule 4). */
export const ALIASES = 'm.room.aliases';
/** With a rule of its own in room versions 1 and 2 (rooms/v1 auth rule 11). */
export const REDACTION = 'm.room.redaction';

export const CREATE_KEY = stateKey(CREATE, '');
export const JOIN_RULES_KEY = stateKey(JOIN_RULES, '');
export const POWER_LEVELS_KEY = stateKey(POWER_LEVELS, '');

export function memberKey(userId: string) {
  return stateKey(MEMBER, userId);
}

export function getCreateEvent(state: StateEventMap): RoomEvent | undefined {
  return state.get(CREATE_KEY);
}

/**
 * Whether the room takes part in federation: its create event does not say `m.federate: false`
 * (client-server "Creation"; the MQTT bridge's sensor rooms say it). Rooms that do not federate
 * never leave this server.
 */
export function roomFederates(state: ReadonlyMap<string, RoomEvent>): boolean {
  return state.get(CREATE_KEY)?.pdu.content['m.federate'] !== false;
}

export function getPowerLevelsEvent(state: StateEventMap): RoomEvent | undefined {
  return state.get(POWER_LEVELS_KEY);
}

/** `content.membership` of the user's member event, or undefined when the user has none. */
export function getMembership(state: StateEventMap, userId: string): string | undefined {
  const membership = state.get(memberKey(userId))?.pdu.content.membership;
  return typeof membership === 'string' ? membership : undefined;
}

/** `content.join_rule` of the join rules event, or undefined when there is none. */
export function getJoinRule(state: StateEventMap): string | undefined {
  const rule = state.get(JOIN_RULES_KEY)?.pdu.content.join_rule;
  return typeof rule === 'string' ? rule : undefined;
}

/** A state map holding the given events under their `(type, state_key)`; non-state events are skipped. */
export function stateMapOf(events: Iterable<RoomEvent>): StateEventMap {
  const map: StateEventMap = new Map();
  for (const event of events) {
    if (event.pdu.state_key !== undefined) map.set(stateKey(event.pdu.type, event.pdu.state_key), event);
  }
  return map;
}

