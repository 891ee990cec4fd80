/**
 * The shapes of the spec's well-known state contents, checked on the events this server creates (a
 * client's send, room creation, the bridge), as Synapse's EventValidator does before an event is
 * built: `join_rule: 5` or a power level of `"high"` is a bad request (400 M_BAD_JSON), not an
 * event the auth rules would then have to make sense of. Events received over federation are judged
 * by the auth rules alone (a remote event is never refused for a shape the rules accept).
 */
import type { JsonObject } from './types.js';

/** Memberships of client-server "m.room.member". */
const MEMBERSHIPS = new Set(['invite', 'join', 'knock', 'leave', 'ban']);
/** The integer fields of m.room.power_levels (client-server "m.room.power_levels"). */
const POWER_LEVEL_FIELDS = ['ban', 'events_default', 'invite', 'kick', 'redact', 'state_default', 'users_default'];
const POWER_LEVEL_MAPS = ['events', 'users', 'notifications'];

/** Fields that must be strings when present, per state type. */
const STRING_FIELDS: Record<string, string[]> = {
  'm.room.join_rules': ['join_rule'],
  'm.room.name': ['name'],
  'm.room.topic': ['topic'],
  'm.room.history_visibility': ['history_visibility'],
  'm.room.guest_access': ['guest_access'],
  'm.room.encryption': ['algorithm'],
  'm.room.canonical_alias': ['alias'],
  'm.room.tombstone': ['replacement_room'],
  'm.room.member': ['displayname', 'avatar_url'],
};

/** Fields that must be present (and strings), per state type. */
const REQUIRED_FIELDS: Record<string, string[]> = {
  'm.room.join_rules': ['join_rule'],
  'm.room.history_visibility': ['history_visibility'],
  'm.room.member': ['membership'],
  'm.room.encryption': ['algorithm'],
};

/**
 * Why the content of a state event of a well-known type has the wrong shape, or undefined.
 * `integerPowerLevels`: the room version requires integers in power levels (rooms/v10 and later);
 * older versions leave the values to their auth rules.
 */
export function wellKnownContentRefusal(type: string, content: JsonObject, opts: { integerPowerLevels: boolean }): string | undefined {
  for (const field of REQUIRED_FIELDS[type] ?? []) {
    if (content[field] === undefined) return `${type} needs ${field}`;
  }
  for (const field of STRING_FIELDS[type] ?? []) {
    const v = content[field];
    // `null` removes an optional field in Synapse's eyes too (a display name cleared).
    if (v !== undefined && v !== null && typeof v !== 'string') return `${type}: ${field} must be a string`;
  }
  if (type === 'm.room.member') {
    if (typeof content.membership !== 'string' || !MEMBERSHIPS.has(content.membership)) return 'm.room.member: invalid membership';
  }
  if (type === 'm.room.canonical_alias' && content.alt_aliases !== undefined) {
    const alt = content.alt_aliases;
    if (!Array.isArray(alt) || alt.some((a) => typeof a !== 'string')) return 'm.room.canonical_alias: alt_aliases must be a list of strings';
  }
  if (type === 'm.room.power_levels') return powerLevelsRefusal(content, opts.integerPowerLevels);
  return undefined;
}

function powerLevelsRefusal(content: JsonObject, integersOnly: boolean): string | undefined {
  // Before v10 the auth rules read what they can (rooms fragment v1-stringy-power-levels: strings
  // parsed as integers, anything else as no level), and rooms upgraded from there carry that over.
  const isLevel = (v: unknown) => !integersOnly || (typeof v === 'number' && Number.isSafeInteger(v));
  for (const field of POWER_LEVEL_FIELDS) {
    if (content[field] !== undefined && !isLevel(content[field])) return `m.room.power_levels: ${field} must be an integer`;
  }
  for (const field of POWER_LEVEL_MAPS) {
    const map = content[field];
    if (map === undefined) continue;
    if (map === null || typeof map !== 'object' || Array.isArray(map)) return `m.room.power_levels: ${field} must be an object`;
    for (const [key, v] of Object.entries(map)) {
      if (!isLevel(v)) return `m.room.power_levels: ${field}.${key} must be an integer`;
    }
  }
  return undefined;
}
