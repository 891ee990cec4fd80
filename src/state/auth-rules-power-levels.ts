/**
 * The `m.room.power_levels` authorisation rules: rooms/v1-v5 rule 10, rooms/v6-v11 rule 9,
 * rooms/v12 rule 10. Comments give the v10 numbers; v12 inserts 10.4, so its later sub-steps are
 * one higher (in brackets). Before v10 only `users` is validated (v1 10.1: "integers (or a string
 * that is an integer)", floats too before v6), so v10's 9.1-9.3 are one step 10.1 there, and
 * later numbers are two lower. Values are compared as the room version reads them
 * (power-levels.ts `powerLevelOf`).
 */
import type { Json, JsonObject, RoomEvent, StateEventMap } from '../core/types.js';
import type { RoomVersionRules } from '../core/room-versions.js';
import type { AuthResult } from './auth-result.js';
import { allow, reject } from './auth-result.js';
import { getRoomCreators, getUserPowerLevel, isPowerLevelValue, powerLevelOf } from './power-levels.js';
import { getCreateEvent, getPowerLevelsEvent } from './room-state.js';
import { isJsonObject } from '../core/json-object.js';
import { isValidUserId } from '../core/identifiers.js';

/** The top-level levels compared in step 9.5 (v12: 10.6). */
const TOP_LEVEL_LEVELS = ['users_default', 'events_default', 'state_default', 'ban', 'redact', 'kick', 'invite'] as const;

export function checkPowerLevelsEvent(event: RoomEvent, authState: StateEventMap, rules: RoomVersionRules): AuthResult {
  const { content, sender } = event.pdu;

  if (rules.integerPowerLevels) {
    // 9.1 (v10+) Top-level levels that are present must be integers (never strings).
    for (const name of TOP_LEVEL_LEVELS) {
      if (content[name] !== undefined && !isPowerLevelValue(content[name])) return reject(`${name} is not an integer`);
    }
    // 9.2 (v10+) `events` and `notifications`, when present, must map to integers.
    for (const name of ['events', 'notifications'] as const) {
      if (content[name] !== undefined && !isLevelMap(content[name], rules)) return reject(`${name} is not an object of integers`);
    }
  }
  // 9.3 [v1 10.1] `users` must map valid user ids to integers (before v10: or integer strings).
  const users = content.users;
  if (users !== undefined) {
    if (!isLevelMap(users, rules)) return reject('users is not an object of integers');
    const invalid = Object.keys(users).find((userId) => !isValidUserId(userId));
    if (invalid !== undefined) return reject(`users has an invalid user id ${invalid}`);
  }
  // [10.4] (v12) `users` must not name a room creator: their power is fixed at infinity.
  if (rules.creatorsHaveInfinitePower && isJsonObject(users)) {
    const creators = getRoomCreators(getCreateEvent(authState), rules);
    const named = Object.keys(users).find((userId) => creators.has(userId));
    if (named !== undefined) return reject(`users names room creator ${named}`);
  }

  // 9.4 [10.5] With no previous power levels event in the room, allow.
  const previous = getPowerLevelsEvent(authState);
  if (!previous) return allow();
  const old = previous.pdu.content;
  const senderLevel = getUserPowerLevel(sender, authState, rules);
  const level = (value: Json | undefined) => powerLevelOf(value, rules);

  // 9.5 [10.6] Each top-level level added, changed or removed: neither the current nor the new
  // value may exceed the sender's level.
  for (const name of TOP_LEVEL_LEVELS) {
    const verdict = checkChange(name, level(old[name]), level(content[name]), senderLevel);
    if (verdict) return verdict;
  }
  // 9.6-9.7 [10.7-10.8] The same for each entry of `events` and (rooms/v6+) `notifications`.
  const maps = rules.notificationsPowerLevels ? (['events', 'notifications'] as const) : (['events'] as const);
  for (const name of maps) {
    const before = objectOrEmpty(old[name]);
    const after = objectOrEmpty(content[name]);
    for (const key of unionKeys(before, after)) {
      const verdict = checkChange(`${name}.${key}`, level(before[key]), level(after[key]), senderLevel);
      if (verdict) return verdict;
    }
  }
  // 9.8-9.9 [10.9-10.10] Each `users` entry changed or removed (except the sender's own) must be
  // below the sender's level now; each entry added or changed must not exceed it afterwards.
  const usersBefore = objectOrEmpty(old.users);
  const usersAfter = objectOrEmpty(content.users);
  for (const userId of unionKeys(usersBefore, usersAfter)) {
    const before = level(usersBefore[userId]);
    const after = level(usersAfter[userId]);
    if (before === after) continue;
    if (userId !== sender && before !== undefined && before >= senderLevel) {
      return reject(`cannot change the level of ${userId}, who is not below the sender`);
    }
    if (after !== undefined && after > senderLevel) return reject(`cannot raise ${userId} above the sender's level`);
  }
  // 9.10 [10.11] Otherwise, allow.
  return allow();
}

/** 9.5.1-9.5.2 / 9.6.1 / 9.7.1: a changed level must not exceed the sender's, before or after. */
function checkChange(name: string, before: number | undefined, after: number | undefined, senderLevel: number): AuthResult | undefined {
  if (before === after) return undefined;
  if (before !== undefined && before > senderLevel) return reject(`cannot change ${name}: its current value exceeds the sender's level`);
  if (after !== undefined && after > senderLevel) return reject(`cannot set ${name} above the sender's level`);
  return undefined;
}

/** An object whose every value is a power level in this room version. */
function isLevelMap(value: Json | undefined, rules: RoomVersionRules): value is JsonObject {
  return isJsonObject(value) && Object.values(value).every((entry) => powerLevelOf(entry, rules) !== undefined);
}

function objectOrEmpty(value: Json | undefined): JsonObject {
  return isJsonObject(value) ? value : {};
}

function unionKeys(a: JsonObject, b: JsonObject): Set<string> {
  return new Set([...Object.keys(a), ...Object.keys(b)]);
}
