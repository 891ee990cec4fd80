/**
 * The `m.room.member` authorisation rules: rooms/v1 (fragment v1-auth-rules) rule 5, rooms/v3-v11
 * rule 4 (v6 drops the aliases rule before it), rooms/v12 rule 5. Comments carry the v8+
 * sub-step numbers; v7 adds knocking (sub-step 7), v8 the restricted join rule and sub-step 2,
 * shifting the later ones; v1-v7 numbers are one lower from "join" on.
 */
import type { RoomEvent, StateEventMap } from '../core/types.js';
import type { RoomVersionRules } from '../core/room-versions.js';
import { serverNameOf } from '../core/identifiers.js';
import { prevEventIds } from '../core/event-references.js';
import type { AuthResult } from './auth-result.js';
import { allow, reject } from './auth-result.js';
import { canUserDo, getActionLevel, getUserPowerLevel } from './power-levels.js';
import { getCreateEvent, getJoinRule, getMembership } from './room-state.js';
import { isJsonObject } from '../core/json-object.js';
import { checkThirdPartyInvite } from './third-party-invite.js';

export function checkMembershipEvent(event: RoomEvent, authState: StateEventMap, rules: RoomVersionRules): AuthResult {
  const { pdu } = event;
  const target = pdu.state_key;
  const membership = pdu.content.membership;
  // 1. If there is no state_key, or no membership in content, reject.
  if (target === undefined || typeof membership !== 'string') return reject('member event without state_key or membership');

  // 2. (v8+) If content has join_authorised_via_users_server, the event must be validly signed by
  // that user's homeserver. Here: a signature by that server must be present. Verifying signatures
  // cryptographically needs server keys (I/O), so the caller's signature check covers every
  // server in `signatures` before the auth rules run. Before v8 the property means nothing.
  const authoriser = pdu.content.join_authorised_via_users_server;
  if (authoriser !== undefined && rules.restrictedJoinRule) {
    const server = typeof authoriser === 'string' ? serverNameOf(authoriser) : undefined;
    const byServer = server === undefined ? undefined : pdu.signatures[server];
    if (!byServer || Object.keys(byServer).length === 0) return reject('join not signed by the authorising server');
  }

  switch (membership) {
    case 'join':
      return checkJoin(event, target, authState, rules);
    case 'invite':
      return checkInvite(event, target, authState, rules);
    case 'leave':
      return checkLeave(event, target, authState, rules);
    case 'ban':
      return checkBan(event, target, authState, rules);
    case 'knock':
      // rooms/v7 adds the knock membership; before it, `knock` is an unknown membership (rule 8).
      if (!rules.knocking) return reject('knocking needs room version 7 or later');
      return checkKnock(event, target, authState, rules);
    default:
      // 8. Otherwise, the membership is unknown. Reject.
      return reject(`unknown membership ${membership}`);
  }
}

/** Step 3: membership `join`. */
function checkJoin(event: RoomEvent, target: string, authState: StateEventMap, rules: RoomVersionRules): AuthResult {
  const { pdu } = event;
  // 3.1 If the only previous event is the create event and the state_key is the creator, allow.
  // "The creator" is content.creator in v10 and the create event's sender from v11; in v12 the
  // additional creators do not count here (they join like anyone else).
  const create = getCreateEvent(authState);
  const prevIds = prevEventIds(pdu);
  if (create && prevIds.length === 1 && prevIds[0] === create.event_id) {
    const creator = rules.createContentHasCreator ? create.pdu.content.creator : create.pdu.sender;
    if (target === creator) return allow();
  }
  // 3.2 If the sender does not match state_key, reject.
  if (pdu.sender !== target) return reject('cannot join on behalf of another user');
  const current = getMembership(authState, target);
  // 3.3 If the sender is banned, reject.
  if (current === 'ban') return reject('sender is banned');
  const alreadyInvitedOrJoined = current === 'invite' || current === 'join';
  // A room without a join rules event behaves as invite-only. The spec leaves the case open
  // (3.7 would reject even invited users); Synapse treats it as `invite`, and state resolution
  // only converges if servers agree, so we do the same.
  const joinRule = getJoinRule(authState) ?? 'invite';
  // 3.4 If the join rule is invite or knock, allow if the membership is invite or join. (v1-v6:
  // invite only; a `knock` join rule there is unknown and rejects at 3.7.)
  if (joinRule === 'invite' || (joinRule === 'knock' && rules.knocking)) {
    return alreadyInvitedOrJoined ? allow() : reject(`join rule is ${joinRule} and the user is not invited`);
  }
  // 3.5 (v8+) If the join rule is restricted or (v10+) knock_restricted:
  if ((joinRule === 'restricted' && rules.restrictedJoinRule) || (joinRule === 'knock_restricted' && rules.knockRestrictedJoinRule)) {
    // 3.5.1 If membership is join or invite, allow.
    if (alreadyInvitedOrJoined) return allow();
    // 3.5.2 If join_authorised_via_users_server is not a joined user able to invite, reject.
    const authoriser = pdu.content.join_authorised_via_users_server;
    if (typeof authoriser !== 'string') return reject('restricted join without an authorising user');
    if (getMembership(authState, authoriser) !== 'join') return reject('authorising user is not joined');
    if (!canUserDo('invite', authoriser, authState, rules)) return reject('authorising user cannot invite');
    // 3.5.3 Otherwise, allow.
    return allow();
  }
  // 3.6 If the join rule is public, allow.
  if (joinRule === 'public') return allow();
  // 3.7 Otherwise, reject.
  return reject(`join rule ${joinRule} does not allow joining`);
}

/** Step 4: membership `invite`. */
function checkInvite(event: RoomEvent, target: string, authState: StateEventMap, rules: RoomVersionRules): AuthResult {
  const { pdu } = event;
  // 4.1 With content.third_party_invite, the identity server's signature decides.
  if (isJsonObject(pdu.content.third_party_invite)) return checkThirdPartyInvite(event, target, authState);
  // 4.2 If the sender's membership is not join, reject.
  if (getMembership(authState, pdu.sender) !== 'join') return reject('inviter is not joined');
  // 4.3 If the target's membership is join or ban, reject.
  const targetMembership = getMembership(authState, target);
  if (targetMembership === 'join' || targetMembership === 'ban') return reject(`target is already ${targetMembership}`);
  // 4.4 If the sender's power level reaches the invite level, allow.
  if (canUserDo('invite', pdu.sender, authState, rules)) return allow();
  // 4.5 Otherwise, reject.
  return reject('sender lacks the invite level');
}

/** Step 5: membership `leave` (leaving, rejecting an invite, retracting a knock, kick, unban). */
function checkLeave(event: RoomEvent, target: string, authState: StateEventMap, rules: RoomVersionRules): AuthResult {
  const sender = event.pdu.sender;
  const targetMembership = getMembership(authState, target);
  // 5.1 If the sender is the target, allow iff their membership is invite, join or (v7+) knock.
  if (sender === target) {
    const canLeave = targetMembership === 'invite' || targetMembership === 'join' || (targetMembership === 'knock' && rules.knocking);
    return canLeave ? allow() : reject(`cannot leave from membership ${targetMembership ?? 'none'}`);
  }
  // 5.2 If the sender's membership is not join, reject.
  if (getMembership(authState, sender) !== 'join') return reject('sender is not joined');
  const senderLevel = getUserPowerLevel(sender, authState, rules);
  // 5.3 If the target is banned and the sender is below the ban level, reject.
  if (targetMembership === 'ban' && senderLevel < getActionLevel('ban', authState, rules)) return reject('sender lacks the ban level to unban');
  // 5.4 If the sender reaches the kick level and outranks the target, allow.
  if (senderLevel >= getActionLevel('kick', authState, rules) && getUserPowerLevel(target, authState, rules) < senderLevel) return allow();
  // 5.5 Otherwise, reject.
  return reject('sender lacks the kick level or does not outrank the target');
}

/** Step 6: membership `ban`. */
function checkBan(event: RoomEvent, target: string, authState: StateEventMap, rules: RoomVersionRules): AuthResult {
  const sender = event.pdu.sender;
  // 6.1 If the sender's membership is not join, reject.
  if (getMembership(authState, sender) !== 'join') return reject('sender is not joined');
  // 6.2 If the sender reaches the ban level and outranks the target, allow.
  const senderLevel = getUserPowerLevel(sender, authState, rules);
  if (senderLevel >= getActionLevel('ban', authState, rules) && getUserPowerLevel(target, authState, rules) < senderLevel) return allow();
  // 6.3 Otherwise, reject.
  return reject('sender lacks the ban level or does not outrank the target');
}

/** Step 7: membership `knock`. */
function checkKnock(event: RoomEvent, target: string, authState: StateEventMap, rules: RoomVersionRules): AuthResult {
  const sender = event.pdu.sender;
  // 7.1 If the join rule is anything other than knock or knock_restricted, reject.
  const joinRule = getJoinRule(authState);
  const knockable = joinRule === 'knock' || (joinRule === 'knock_restricted' && rules.knockRestrictedJoinRule);
  if (!knockable) return reject(`join rule ${joinRule ?? 'none'} does not allow knocking`);
  // 7.2 If the sender does not match state_key, reject.
  if (sender !== target) return reject('cannot knock on behalf of another user');
  // 7.3 If the sender's membership is not ban, invite or join, allow.
  const current = getMembership(authState, sender);
  if (current !== 'ban' && current !== 'invite' && current !== 'join') return allow();
  // 7.4 Otherwise, reject.
  return reject(`cannot knock from membership ${current}`);
}
