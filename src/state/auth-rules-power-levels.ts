/**
 * The `m.room.power_levels` authorisation rules: rooms/v10 and v11 rule 9, rooms/v12 rule 10
 * (v12 inserts 10.4, so its later sub-steps are one higher; comments give the v10 number and
 * the v12 one in brackets where they differ).
 */
import type { Json, JsonObject, RoomEvent, StateEventMap } from '../core/types.js';
import type { RoomVersionRules } from '../core/room-versions.js';
import type { AuthResult } from './auth-result.js';
import { allow, reject } from './auth-result.js';
import { getRoomCreators, getUserPowerLevel, isPowerLevelValue } from './power-levels.js';
import { getCreateEvent, getPowerLevelsEvent } from './room-state.js';
import { isJsonObject } from '../core/json-object.js';
import { isValidUserId } from '../core/identifiers.js';

/** The top-level levels compared in step 9.5 (v12: 10.6). */
const TOP_LEVEL_LEVELS = ['users_default', 'events_default', 'state_default', 'ban', 'redact', 'kick', 'invite'] as const;

export function checkPowerLevelsEvent(event: RoomEvent, authState: StateEventMap, rules: RoomVersionRules): AuthResult {
  const { content, sender } = event.pdu;

  // 9.1 Top-level levels that are present must be integers (v10+: never strings).
  for (const name of TOP_LEVEL_LEVELS) {
    if (content[name] !== undefined && !isPowerLevelValue(content[name])) return reject(`${name} is not an integer`);
  }
  // 9.2 `events` and `notifications`, when present, must map to integers.
  for (const name of ['events', 'notifications'] as const) {
    if (content[name] !== undefined && !isIntegerMap(content[name])) return reject(`${name} is not an object of integers`);
  }
  // 9.3 `users` must map valid user ids to integers.
  const users = content.users;
  if (users !== undefined) {
    if (!isIntegerMap(users)) return reject('users is not an object of integers');
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

  // 9.5 [10.6] Each top-level level added, changed or removed: neither the current nor the new
  // value may exceed the sender's level.
  for (const name of TOP_LEVEL_LEVELS) {
    const verdict = checkChange(name, old[name], content[name], senderLevel);
    if (verdict) return verdict;
  }
  // 9.6-9.7 [10.7-10.8] The same for each entry of `events` and `notifications`.
  for (const name of ['events', 'notifications'] as const) {
    const before = objectOrEmpty(old[name]);
    const after = objectOrEmpty(content[name]);
    for (const key of unionKeys(before, after)) {
      const verdict = checkChange(`${name}.${key}`, before[key], after[key], senderLevel);
      if (verdict) return verdict;
    }
  }
  // 9.8-9.9 [10.9-10.10] Each `users` entry changed or removed (except the sender's own) must be
  // below the sender's level now; each entry added or changed must not exceed it afterwards.
  const usersBefore = objectOrEmpty(old.users);
  const usersAfter = objectOrEmpty(content.users);
  for (const userId of unionKeys(usersBefore, usersAfter)) {
    const before = usersBefore[userId];
    const after = usersAfter[userId];
    if (before === after) continue;
    if (userId !== sender && isPowerLevelValue(before) && before >= senderLevel) {
      return reject(`cannot change the level of ${userId}, who is not below the sender`);
    }
    if (isPowerLevelValue(after) && after > senderLevel) return reject(`cannot raise ${userId} above the sender's level`);
  }
  // 9.10 [10.11] Otherwise, allow.
  return allow();
}

/** 9.5.1-9.5.2 / 9.6.1 / 9.7.1: a changed level must not exceed the sender's, before or after. */
function checkChange(name: string, before: Json | undefined, after: Json | undefined, senderLevel: number): AuthResult | undefined {
  if (before === after) return undefined;
  if (isPowerLevelValue(before) && before > senderLevel) return reject(`cannot change ${name}: its current value exceeds the sender's level`);
  if (isPowerLevelValue(after) && after > senderLevel) return reject(`cannot set ${name} above the sender's level`);
  return undefined;
}

function isIntegerMap(value: Json | undefined): value is JsonObject {
  return isJsonObject(value) && Object.values(value).every(isPowerLevelValue);
}

function objectOrEmpty(value: Json | undefined): JsonObject {
  return isJsonObject(value) ? value : {};
}

function unionKeys(a: JsonObject, b: JsonObject): Set<string> {
  return new Set([...Object.keys(a), ...Object.keys(b)]);
}
