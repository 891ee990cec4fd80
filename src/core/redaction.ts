/**
 * The redaction algorithm: what is left of an event once it is redacted. The same stripping
 * defines what event signatures and reference hashes cover (server-server "Signing events",
 * "Calculating the reference hash for an event"), so this runs for every event we sign or check.
 *
 * rooms/v1 "Redactions" (v1-v5), v6 (v6, v7), v8, v9 (v9, v10) and v11 (v11, v12).
 */
import { isJsonObject } from './json-object.js';
import type { RedactionAlgorithm, RoomVersionRules } from './room-versions.js';
import type { JsonObject, Pdu } from './types.js';

/** Which `content` keys of a given event type survive: a list of keys, or all of them. */
type ContentRule = readonly string[] | 'all';

interface RedactionTable {
  /** Top-level keys kept; every other key (`unsigned`, top-level `redacts`, ...) goes. */
  topLevel: ReadonlySet<string>;
  /** Content keys kept per event type; the content of any other type is emptied. */
  content: ReadonlyMap<string, ContentRule>;
  /** rooms/v11: `m.room.member` keeps `third_party_invite`, reduced to its `signed` key. */
  keepThirdPartyInviteSigned: boolean;
}

/** rooms/v1 "Redactions": the top-level keys kept by room versions 1-10. */
const V1_TOP_LEVEL = [
  'event_id', 'type', 'room_id', 'sender', 'state_key', 'content', 'hashes', 'signatures',
  'depth', 'prev_events', 'prev_state', 'auth_events', 'origin', 'origin_server_ts', 'membership',
];

const POWER_LEVELS_V1 = ['ban', 'events', 'events_default', 'kick', 'redact', 'state_default', 'users', 'users_default'];

/** rooms/v1 "Redactions" (fragment v1-redactions; room versions 1-5). */
const V1_TABLE: RedactionTable = {
  topLevel: new Set(V1_TOP_LEVEL),
  content: new Map<string, ContentRule>([
    ['m.room.member', ['membership']],
    ['m.room.create', ['creator']],
    ['m.room.join_rules', ['join_rule']],
    ['m.room.power_levels', POWER_LEVELS_V1],
    ['m.room.aliases', ['aliases']],
    ['m.room.history_visibility', ['history_visibility']],
  ]),
  keepThirdPartyInviteSigned: false,
};

/** rooms/v6 "Redactions" (fragment v6-redactions; v6, v7): `m.room.aliases` keeps nothing. */
const V6_TABLE: RedactionTable = {
  ...V1_TABLE,
  content: new Map([...V1_TABLE.content].filter(([type]) => type !== 'm.room.aliases')),
};

/** rooms/v8 "Redactions": `m.room.join_rules` also keeps `allow`. */
const V8_TABLE: RedactionTable = {
  ...V6_TABLE,
  content: new Map([...V6_TABLE.content, ['m.room.join_rules', ['join_rule', 'allow']]]),
};

/** rooms/v9 "Redactions" (fragment v9-redactions; v9, v10): `m.room.member` also keeps `join_authorised_via_users_server`. */
const V9_TABLE: RedactionTable = {
  ...V8_TABLE,
  content: new Map([...V8_TABLE.content, ['m.room.member', ['membership', 'join_authorised_via_users_server']]]),
};

/**
 * rooms/v11 "Redactions" (room versions 11, 12): top-level `origin`, `membership` and
 * `prev_state` are no longer kept; the create event keeps all its content; power levels keep
 * `invite`; redactions keep `content.redacts`; members keep `third_party_invite.signed`.
 */
const V11_TABLE: RedactionTable = {
  topLevel: new Set(V1_TOP_LEVEL.filter((key) => key !== 'origin' && key !== 'membership' && key !== 'prev_state')),
  content: new Map<string, ContentRule>([
    ['m.room.member', ['membership', 'join_authorised_via_users_server']],
    ['m.room.create', 'all'],
    ['m.room.join_rules', ['join_rule', 'allow']],
    ['m.room.power_levels', ['ban', 'events', 'events_default', 'invite', 'kick', 'redact', 'state_default', 'users', 'users_default']],
    ['m.room.history_visibility', ['history_visibility']],
    ['m.room.redaction', ['redacts']],
  ]),
  keepThirdPartyInviteSigned: true,
};

const TABLES: Record<RedactionAlgorithm, RedactionTable> = { v1: V1_TABLE, v6: V6_TABLE, v8: V8_TABLE, v9: V9_TABLE, v11: V11_TABLE };

/**
 * Redact an event as the room version prescribes. Returns a new object and never mutates the
 * input; kept values are shared with it, not copied, so treat both as immutable. The result
 * always has a `content` object (empty when nothing of it survives).
 */
export function redactPdu(pdu: Pdu, rules: RoomVersionRules): Pdu;
export function redactPdu(event: JsonObject, rules: RoomVersionRules): JsonObject;
export function redactPdu(event: object, rules: RoomVersionRules): object {
  const table = TABLES[rules.redactionAlgorithm];
  const source = event as Record<string, unknown>;
  const redacted: Record<string, unknown> = {};
  // 1. Keep only the protected top-level keys.
  for (const key of Object.keys(source)) {
    if (table.topLevel.has(key)) redacted[key] = source[key];
  }
  // 2. Keep only the protected content keys of this event type.
  redacted.content = redactContent(source.type, source.content, table);
  return redacted;
}

function redactContent(type: unknown, content: unknown, table: RedactionTable): JsonObject {
  if (!isJsonObject(content) || typeof type !== 'string') return {};
  const rule = table.content.get(type);
  if (rule === undefined) return {};
  if (rule === 'all') return content;
  const kept: JsonObject = {};
  for (const key of rule) {
    if (Object.hasOwn(content, key)) kept[key] = content[key]!;
  }
  if (table.keepThirdPartyInviteSigned && type === 'm.room.member') {
    const invite = content.third_party_invite;
    if (isJsonObject(invite)) {
      kept.third_party_invite = Object.hasOwn(invite, 'signed') ? { signed: invite.signed! } : {};
    }
  }
  return kept;
}
