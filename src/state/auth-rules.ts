/**
 * The authorisation rules of every room version (rooms/v1.md .. v12.md "Authorisation rules",
 * fragments v1-auth-rules, v3-auth-rules, v8-auth-rules). Comments carry the v6-v11 step numbers;
 * v1-v5 have an extra rule 4 (`m.room.aliases`), so their later steps are one higher, and v1/v2
 * end with rule 11 (`m.room.redaction`); v12 inserts a rule 2 (the room id names the create
 * event), so its later top-level steps are one higher, shown as [v12 n]. Differences between
 * versions are fields of {@link RoomVersionRules}, never version comparisons.
 *
 * `authState` is the state the event is checked against: the state before the event, the current
 * state (soft-fail check), or the state formed by its `auth_events` (server-server "Checks
 * performed on receipt of a PDU", steps 4-6). It must hold the create event in every version;
 * in v12, where `auth_events` never lists it, the caller adds the create event named by the
 * room id. The checks on the `auth_events` list itself (rule 2 [v12 3]) are in auth-events.ts.
 */
import type { RoomEvent, StateEventMap } from '../core/types.js';
import type { RoomVersionRules } from '../core/room-versions.js';
import { isSupportedRoomVersion } from '../core/room-versions.js';
import { computeRoomIdFromCreateEvent } from '../core/hashes.js';
import { isValidUserId, serverNameOf } from '../core/identifiers.js';
import type { AuthResult } from './auth-result.js';
import { allow, reject } from './auth-result.js';
import { checkMembershipEvent } from './auth-rules-membership.js';
import { checkPowerLevelsEvent } from './auth-rules-power-levels.js';
import { canUserDo, getRequiredPowerForEvent, getUserPowerLevel } from './power-levels.js';
import { ALIASES, CREATE, MEMBER, POWER_LEVELS, REDACTION, THIRD_PARTY_INVITE, getCreateEvent, getMembership } from './room-state.js';

export type { AuthResult } from './auth-result.js';
// The auth events an event is checked against live in auth-events.ts; re-exported so the whole
// authorisation API can be imported from here.
export { authEventKeys, checkAuthEventsList, selectAuthEvents } from './auth-events.js';

export function checkEventAuth(event: RoomEvent, authState: StateEventMap, rules: RoomVersionRules): AuthResult {
  const { pdu } = event;

  // 1. The create event is judged on its own.
  if (pdu.type === CREATE) return checkCreateEvent(event, rules);

  const create = getCreateEvent(authState);
  // 2.4 (v10/v11) Without a create event among the auth events, reject.
  if (!create) return reject('no m.room.create in the auth state');
  // [v12 2] The room id must be the create event's id with `!` for `$`. (That the create event
  // was accepted is the caller's knowledge, as for every auth event, see rule 2.3.)
  if (rules.roomIdIsCreateEventHash && event.room_id !== computeRoomIdFromCreateEvent(create.event_id)) {
    return reject('room id does not name the create event');
  }

  // 3. [v12 4] If the create event says `m.federate: false`, only the creator's server may send.
  if (create.pdu.content['m.federate'] === false && serverNameOf(pdu.sender) !== serverNameOf(create.pdu.sender)) {
    return reject('room is not federated');
  }

  // [v1-v5 4] m.room.aliases: the state_key must be the sender's domain; then allow. (Removed by
  // rooms/v6 "Authorisation rules": from v6 aliases events are checked like any state event.)
  if (rules.aliasesAuthRule && pdu.type === ALIASES) {
    if (pdu.state_key === undefined) return reject('m.room.aliases without a state_key');
    if (pdu.state_key !== serverNameOf(pdu.sender)) return reject("m.room.aliases state_key is not the sender's domain");
    return allow();
  }

  // 4. [v12 5] Membership events have their own rules.
  if (pdu.type === MEMBER) return checkMembershipEvent(event, authState, rules);

  // 5. [v12 6] Everything else needs the sender joined.
  if (getMembership(authState, pdu.sender) !== 'join') return reject('sender is not joined');

  // 6. [v12 7] m.room.third_party_invite: allow iff the sender reaches the invite level.
  if (pdu.type === THIRD_PARTY_INVITE) {
    return canUserDo('invite', pdu.sender, authState, rules) ? allow() : reject('sender lacks the invite level');
  }

  // 7. [v12 8] The sender must reach the event type's required power level.
  const required = getRequiredPowerForEvent(pdu.type, pdu.state_key !== undefined, authState, rules);
  if (getUserPowerLevel(pdu.sender, authState, rules) < required) {
    return reject(`sender's power level is below the ${required} required for ${pdu.type}`);
  }

  // 8. [v12 9] A state_key starting with `@` is reserved to that user.
  if (pdu.state_key?.startsWith('@') && pdu.state_key !== pdu.sender) {
    return reject('state_key names another user');
  }

  // 9. [v12 10] m.room.power_levels has its own rules.
  if (pdu.type === POWER_LEVELS) return checkPowerLevelsEvent(event, authState, rules);

  // [v1/v2 11] m.room.redaction: allowed at the redact level, or when the redacted event's id
  // has the redaction's own event id domain. From v3 ("Handling redactions") the auth rules
  // allow every redaction and the check moves to when the redaction is applied.
  if (rules.redactionAuthRule && pdu.type === REDACTION) {
    if (canUserDo('redact', pdu.sender, authState, rules)) return allow();
    const redacted = pdu.redacts;
    if (typeof redacted === 'string' && serverNameOf(redacted) !== undefined && serverNameOf(redacted) === serverNameOf(event.event_id)) {
      return allow();
    }
    return reject('sender lacks the redact level and the redacted event is from another server');
  }

  // 10. [v12 11] Otherwise, allow.
  return allow();
}

/** Rule 1: `m.room.create`. */
function checkCreateEvent(event: RoomEvent, rules: RoomVersionRules): AuthResult {
  const { pdu } = event;
  // 1.1 If it has any prev_events, reject.
  if (pdu.prev_events.length > 0) return reject('create event has prev_events');
  if (rules.roomIdIsCreateEventHash) {
    // [v12 1.2] If the event has a room_id, reject (the room id is derived from the event id).
    if (pdu.room_id !== undefined) return reject('v12 create event carries a room_id');
  } else if (serverNameOf(event.room_id) !== serverNameOf(pdu.sender)) {
    // 1.2 If the room id's domain differs from the sender's, reject.
    return reject("room id domain does not match the sender's");
  }
  // 1.3 If content.room_version is present and not a recognised version, reject.
  const roomVersion = pdu.content.room_version;
  if (roomVersion !== undefined && !(typeof roomVersion === 'string' && isSupportedRoomVersion(roomVersion))) {
    return reject('unrecognised room_version');
  }
  // 1.4 (v1-v10) If content has no `creator`, reject.
  if (rules.createContentHasCreator && pdu.content.creator === undefined) return reject('create event has no creator');
  // [v12 1.4] additional_creators, if present, must be an array of valid user ids.
  if (rules.additionalCreators && pdu.content.additional_creators !== undefined) {
    const additional = pdu.content.additional_creators;
    if (!Array.isArray(additional) || !additional.every((id) => typeof id === 'string' && isValidUserId(id))) {
      return reject('additional_creators is not an array of user ids');
    }
  }
  // 1.5 Otherwise, allow.
  return allow();
}
