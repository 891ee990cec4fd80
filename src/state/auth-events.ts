/**
 * Which state an event is authorised against: server-server "Auth events selection", and the
 * checks the auth rules make on an event's `auth_events` list (v1-v11 rule 2, v12 rule 3).
 */
import type { JsonObject, RoomEvent, StateEventMap, StateKey } from '../core/types.js';
import { stateKey } from '../core/types.js';
import type { RoomVersionRules } from '../core/room-versions.js';
import type { AuthResult } from './auth-result.js';
import { allow, reject } from './auth-result.js';
import {
  CREATE,
  CREATE_KEY,
  JOIN_RULES_KEY,
  MEMBER,
  POWER_LEVELS_KEY,
  THIRD_PARTY_INVITE,
  memberKey,
} from './room-state.js';
import { isJsonObject } from '../core/json-object.js';

/** Memberships for which the join rules are selected ("If membership is join, invite or knock"). */
const MEMBERSHIPS_NEEDING_JOIN_RULES = new Set(['join', 'invite', 'knock']);

/**
 * The `(type, state_key)` pairs that server-server "Auth events selection" picks for an event,
 * in the order listed there. The create event has no auth events.
 */
export function authEventKeys(
  type: string,
  stateKeyValue: string | undefined,
  sender: string,
  content: JsonObject,
  rules: RoomVersionRules,
): StateKey[] {
  if (type === CREATE) return [];
  const keys: StateKey[] = [];
  // 1. Depending on the room version, the create event (v12: implied by the room id instead).
  if (rules.createEventInAuthEvents) keys.push(CREATE_KEY);
  // 2. The current power levels event.
  keys.push(POWER_LEVELS_KEY);
  // 3. The sender's current member event.
  keys.push(memberKey(sender));
  if (type === MEMBER && stateKeyValue !== undefined) {
    const membership = content.membership;
    // 4.1 The target's current member event.
    keys.push(memberKey(stateKeyValue));
    // 4.2 For join, invite and knock: the join rules.
    if (typeof membership === 'string' && MEMBERSHIPS_NEEDING_JOIN_RULES.has(membership)) keys.push(JOIN_RULES_KEY);
    // 4.3 For a third-party invite: the m.room.third_party_invite whose state_key is the signed token.
    const thirdParty = content.third_party_invite;
    if (membership === 'invite' && isJsonObject(thirdParty)) {
      const signed = thirdParty.signed;
      if (isJsonObject(signed) && typeof signed.token === 'string') keys.push(stateKey(THIRD_PARTY_INVITE, signed.token));
    }
    // 4.4 For a restricted join: the authorising user's member event (room versions with
    // restricted rooms, v8+: rooms/_index "Feature matrix").
    const authoriser = content.join_authorised_via_users_server;
    if (membership === 'join' && typeof authoriser === 'string' && rules.restrictedJoinRule) keys.push(memberKey(authoriser));
  }
  return [...new Set(keys)];
}

/** The event ids of `currentState` that "Auth events selection" lists for a new event. */
export function selectAuthEvents(
  type: string,
  stateKeyValue: string | undefined,
  sender: string,
  content: JsonObject,
  currentState: StateEventMap,
  rules: RoomVersionRules,
): string[] {
  const ids: string[] = [];
  for (const key of authEventKeys(type, stateKeyValue, sender, content, rules)) {
    const event = currentState.get(key);
    if (event) ids.push(event.event_id);
  }
  return ids;
}

/**
 * The checks the auth rules make on the `auth_events` list itself (v1-v11 rule 2, v12 rule 3).
 * `authEvents` are the events the event's `auth_events` name. Rule 2.3 (an auth event that was
 * itself rejected) needs stored rejection status, so the caller checks it.
 */
export function checkAuthEventsList(event: RoomEvent, authEvents: readonly RoomEvent[], rules: RoomVersionRules): AuthResult {
  const { pdu } = event;
  const allowedKeys = new Set(authEventKeys(pdu.type, pdu.state_key, pdu.sender, pdu.content, rules));
  const seen = new Set<StateKey>();
  for (const authEvent of authEvents) {
    const key = stateKey(authEvent.pdu.type, authEvent.pdu.state_key ?? '');
    // 2.1 Duplicate entries for a (type, state_key) pair: reject.
    if (seen.has(key)) return reject(`duplicate auth event for ${authEvent.pdu.type}`);
    seen.add(key);
    // 2.2 Entries the auth events selection would not pick: reject (v12: including the create event).
    if (authEvent.pdu.state_key === undefined || !allowedKeys.has(key)) {
      return reject(`auth event ${authEvent.event_id} (${authEvent.pdu.type}) is not one the selection algorithm picks`);
    }
    // 2.5 An auth event from another room: reject.
    if (authEvent.room_id !== event.room_id) return reject(`auth event ${authEvent.event_id} is from another room`);
  }
  // 2.4 (v1-v11) No create event among the entries: reject.
  if (rules.createEventInAuthEvents && !seen.has(CREATE_KEY)) return reject('no m.room.create among auth events');
  return allow();
}
