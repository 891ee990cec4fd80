/**
 * The room facts push rule conditions ask about, read from a room state: member count, display
 * names and power levels (client-server-api modules/push.md "Conditions"). Pure, no I/O.
 */
import type { JsonObject, StateEventMap } from '../core/types.js';
import { splitStateKey } from '../core/types.js';
import type { RoomVersionRules } from '../core/room-versions.js';
import { getUserPowerLevel, powerLevelOf } from '../state/power-levels.js';
import { isJsonObject } from '../core/json-object.js';
import { MEMBER, getMembership, getPowerLevelsEvent, memberKey } from '../state/room-state.js';
import type { PushConditionContext } from './conditions.js';

/** m.room.power_levels `notifications.room`: "Defaults to 50 if unspecified". */
const DEFAULT_NOTIFICATION_LEVELS: Record<string, number> = { room: 50 };

/** Facts shared by every recipient of one event; {@link contextFor} adds the recipient's own. */
export interface RoomPushFacts {
  state: StateEventMap;
  memberCount: number;
  senderPowerLevel: number;
  notificationLevel(key: string): number;
}

/** The facts of `state` (the state before the event) for an event from `sender`. */
export function roomPushFacts(state: StateEventMap, rules: RoomVersionRules, sender: string): RoomPushFacts {
  let memberCount = 0;
  for (const [key, event] of state) {
    if (splitStateKey(key)[0] === MEMBER && event.pdu.content.membership === 'join') memberCount++;
  }
  const notifications = getPowerLevelsEvent(state)?.pdu.content.notifications;
  return {
    state,
    memberCount,
    senderPowerLevel: getUserPowerLevel(sender, state, rules),
    notificationLevel(key: string): number {
      const level = isJsonObject(notifications) ? notifications[key] : undefined;
      // Keys without a level and without a default cannot be reached by anyone.
      // Read as the room version reads levels (strings before v10: fragment v1-stringy-power-levels).
      return powerLevelOf(level, rules) ?? DEFAULT_NOTIFICATION_LEVELS[key] ?? Infinity;
    },
  };
}

/** Whether `userId` is joined in the state. */
export function isJoinedIn(state: StateEventMap, userId: string): boolean {
  return getMembership(state, userId) === 'join';
}

/** The condition context of one recipient: the room facts plus their display name in the room. */
export function contextFor(facts: RoomPushFacts, userId: string): PushConditionContext {
  const member: JsonObject | undefined = facts.state.get(memberKey(userId))?.pdu.content;
  const displayName = typeof member?.displayname === 'string' && member.displayname !== '' ? member.displayname : undefined;
  return {
    userId,
    ...(displayName === undefined ? {} : { displayName }),
    memberCount: facts.memberCount,
    senderPowerLevel: facts.senderPowerLevel,
    notificationLevel: facts.notificationLevel,
  };
}
