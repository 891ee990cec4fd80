/**
 * Power levels as the authorisation rules read them (client-server "m.room.power_levels" and
 * server-server "Checks performed on receipt of a PDU" -> "Definitions": required power level,
 * invite/kick/ban/redact level), including room version 12's room creators with infinite power.
 */
import type { Json, RoomEvent, StateEventMap } from '../core/types.js';
import type { RoomVersionRules } from '../core/room-versions.js';
import { getCreateEvent, getPowerLevelsEvent } from './room-state.js';
import { isJsonObject } from '../core/json-object.js';

/** Actions whose level is a top-level property of the power levels content. */
export type PowerAction = 'invite' | 'kick' | 'ban' | 'redact';

/** server-server "Definitions": the invite level defaults to 0; kick, ban and redact to 50. */
const ACTION_DEFAULTS: Record<PowerAction, number> = { invite: 0, kick: 50, ban: 50, redact: 50 };

/** m.room.power_levels: `state_default` is 50 and `events_default` 0 when unspecified or absent. */
const STATE_DEFAULT = 50;
const EVENTS_DEFAULT = 0;

/** m.room.power_levels `users_default`: "If the room contains no m.room.power_levels event, the
 * room's creator has a power level of 100" (room versions 1-11). */
const CREATOR_LEVEL_WITHOUT_POWER_LEVELS = 100;

/**
 * Room versions 10+ accept only integers as power level values, and canonical JSON bounds them to
 * [-(2^53)+1, 2^53-1]; that is exactly `Number.isSafeInteger`.
 */
export function isPowerLevelValue(value: Json | undefined): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

/** Fragment v1-stringy-power-levels: optional whitespace, an optional sign, decimal digits. */
const STRINGY_INTEGER = /^\s*([+-]?\d+)\s*$/;

/**
 * The level a power level value stands for, or undefined when it stands for none.
 * - Integers, in every room version.
 * - Before v10 (fragment v1-stringy-power-levels): strings holding an integer (`" +0100 "`).
 * - Before v6 (fragment v1-floaty-power-levels): floats, truncated at the decimal point; v6+
 *   events cannot hold floats (rooms/v6 "Canonical JSON").
 * Without `rules`, the v10+ reading (integers only).
 */
export function powerLevelOf(value: Json | undefined, rules?: RoomVersionRules): number | undefined {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) return value;
    if (rules && !rules.strictCanonicalJson && Number.isFinite(value)) return Math.trunc(value);
    return undefined;
  }
  if (typeof value === 'string' && rules && !rules.integerPowerLevels) {
    const match = STRINGY_INTEGER.exec(value);
    return match ? Number(match[1]) : undefined;
  }
  return undefined;
}

function integerOr(value: Json | undefined, fallback: number, rules: RoomVersionRules | undefined): number {
  return powerLevelOf(value, rules) ?? fallback;
}

/**
 * The room creators. rooms/v12 "Authorisation rules" note: the create event's `sender` plus any
 * `content.additional_creators`. Earlier versions have one creator: `content.creator` in v1-v10
 * (the first-join rule), the create event's `sender` from v11.
 */
export function getRoomCreators(createEvent: RoomEvent | undefined, rules: RoomVersionRules): Set<string> {
  const creators = new Set<string>();
  if (!createEvent) return creators;
  if (rules.createContentHasCreator) {
    const creator = createEvent.pdu.content.creator;
    if (typeof creator === 'string') creators.add(creator);
    return creators;
  }
  creators.add(createEvent.pdu.sender);
  const additional = createEvent.pdu.content.additional_creators;
  if (rules.additionalCreators && Array.isArray(additional)) {
    for (const userId of additional) if (typeof userId === 'string') creators.add(userId);
  }
  return creators;
}

/**
 * A user's power level in `state`:
 * 1. (v12) room creators have infinite power, whatever the power levels event says.
 * 2. With a power levels event: `users[userId]`, else `users_default`, else 0.
 * 3. Without one: the creator has 100 (v1-v11), everyone else 0.
 * Values are read as the room version reads them ({@link powerLevelOf}).
 */
export function getUserPowerLevel(userId: string, state: StateEventMap, rules: RoomVersionRules): number {
  const creators = getRoomCreators(getCreateEvent(state), rules);
  if (rules.creatorsHaveInfinitePower && creators.has(userId)) return Infinity;

  const powerLevels = getPowerLevelsEvent(state);
  if (powerLevels) {
    const content = powerLevels.pdu.content;
    const users = content.users;
    const explicit = powerLevelOf(isJsonObject(users) ? users[userId] : undefined, rules);
    if (explicit !== undefined) return explicit;
    return integerOr(content.users_default, 0, rules);
  }
  return creators.has(userId) ? CREATOR_LEVEL_WITHOUT_POWER_LEVELS : 0;
}

/**
 * server-server "Definitions" -> Required Power Level: `events[type]` if listed, otherwise
 * `state_default` for state events and `events_default` for the rest.
 */
export function getRequiredPowerForEvent(type: string, isState: boolean, state: StateEventMap, rules?: RoomVersionRules): number {
  const content = getPowerLevelsEvent(state)?.pdu.content ?? {};
  const events = content.events;
  const listed = powerLevelOf(isJsonObject(events) ? events[type] : undefined, rules);
  if (listed !== undefined) return listed;
  return isState ? integerOr(content.state_default, STATE_DEFAULT, rules) : integerOr(content.events_default, EVENTS_DEFAULT, rules);
}

/** server-server "Definitions" -> Invite Level, Kick Level, Ban Level, Redact Level. */
export function getActionLevel(action: PowerAction, state: StateEventMap, rules?: RoomVersionRules): number {
  const content = getPowerLevelsEvent(state)?.pdu.content ?? {};
  return integerOr(content[action], ACTION_DEFAULTS[action], rules);
}

/** Whether the user's power level reaches the level of `action` (kick and ban additionally need
 * the target below the sender; the auth rules check that, see auth-rules-membership.ts). */
export function canUserDo(action: PowerAction, userId: string, state: StateEventMap, rules: RoomVersionRules): boolean {
  return getUserPowerLevel(userId, state, rules) >= getActionLevel(action, state, rules);
}
