import test from 'ava';
import { redactPdu } from '../../src/core/redaction.js';
import { getRoomVersionRules } from '../../src/core/room-versions.js';
import type { JsonObject } from '../../src/core/types.js';

const V10 = getRoomVersionRules('10')!;
const V11 = getRoomVersionRules('11')!;
const V12 = getRoomVersionRules('12')!;

/** An event carrying every top-level key the algorithms mention plus some they do not. */
function event(type: string, content: JsonObject, extra: JsonObject = {}): JsonObject {
  return {
    auth_events: ['$a'], content, depth: 4, event_id: '$e', hashes: { sha256: 'h' }, membership: 'join',
    origin: 'example.org', origin_server_ts: 5, prev_events: ['$p'], prev_state: [], room_id: '!r:example.org',
    sender: '@u:example.org', signatures: { 'example.org': { 'ed25519:1': 's' } }, state_key: '', type,
    unsigned: { age: 1 }, redacts: '$x', custom_top_level: 1, ...extra,
  };
}

const COMMON_TOP_LEVEL = ['auth_events', 'content', 'depth', 'event_id', 'hashes', 'origin_server_ts', 'prev_events', 'room_id', 'sender', 'signatures', 'state_key', 'type'];

test('v10 (rooms/v9 algorithm) keeps origin, membership and prev_state at top level', (t) => {
  const redacted = redactPdu(event('m.room.message', { body: 'hi' }), V10);
  t.deepEqual(Object.keys(redacted).sort(), [...COMMON_TOP_LEVEL, 'membership', 'origin', 'prev_state'].sort());
  t.deepEqual(redacted.content, {});
});

test('v11 and v12 drop origin, membership, prev_state, unsigned and top-level redacts', (t) => {
  for (const rules of [V11, V12]) {
    const redacted = redactPdu(event('m.room.message', { body: 'hi' }), rules);
    t.deepEqual(Object.keys(redacted).sort(), [...COMMON_TOP_LEVEL].sort(), rules.id);
  }
});

const POWER_LEVELS: JsonObject = {
  ban: 50, events: { 'm.room.name': 50 }, events_default: 0, invite: 0, kick: 50, redact: 50, state_default: 50,
  users: { '@u:example.org': 100 }, users_default: 0, notifications: { room: 50 },
};

// [event type, content, kept content in v10, kept content in v11/v12]
const CONTENT_CASES: Array<[string, JsonObject, JsonObject, JsonObject]> = [
  [
    'm.room.member',
    { membership: 'invite', displayname: 'U', join_authorised_via_users_server: '@a:b', third_party_invite: { display_name: 'x', signed: { mxid: '@u:example.org', token: 't' } } },
    { membership: 'invite', join_authorised_via_users_server: '@a:b' },
    { membership: 'invite', join_authorised_via_users_server: '@a:b', third_party_invite: { signed: { mxid: '@u:example.org', token: 't' } } },
  ],
  [
    'm.room.create',
    { creator: '@u:example.org', room_version: '10', 'm.federate': false, predecessor: { room_id: '!o:example.org' } },
    { creator: '@u:example.org' },
    { creator: '@u:example.org', room_version: '10', 'm.federate': false, predecessor: { room_id: '!o:example.org' } },
  ],
  [
    'm.room.join_rules',
    { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: '!s:example.org' }], other: 1 },
    { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: '!s:example.org' }] },
    { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: '!s:example.org' }] },
  ],
  [
    'm.room.power_levels',
    POWER_LEVELS,
    { ban: 50, events: { 'm.room.name': 50 }, events_default: 0, kick: 50, redact: 50, state_default: 50, users: { '@u:example.org': 100 }, users_default: 0 },
    { ban: 50, events: { 'm.room.name': 50 }, events_default: 0, invite: 0, kick: 50, redact: 50, state_default: 50, users: { '@u:example.org': 100 }, users_default: 0 },
  ],
  ['m.room.history_visibility', { history_visibility: 'shared', x: 1 }, { history_visibility: 'shared' }, { history_visibility: 'shared' }],
  ['m.room.redaction', { redacts: '$x', reason: 'spam' }, {}, { redacts: '$x' }],
  ['m.room.name', { name: 'Kitchen' }, {}, {}],
  ['constructor', { a: 1 }, {}, {}],
];

for (const [type, content, keptV10, keptV11] of CONTENT_CASES) {
  test(`content of ${type}`, (t) => {
    t.deepEqual(redactPdu(event(type, content), V10).content, keptV10, 'v10');
    t.deepEqual(redactPdu(event(type, content), V11).content, keptV11, 'v11');
    t.deepEqual(redactPdu(event(type, content), V12).content, keptV11, 'v12');
  });
}

test('v11 member: third_party_invite without signed becomes an empty object; non-objects go', (t) => {
  t.deepEqual(redactPdu(event('m.room.member', { membership: 'invite', third_party_invite: { display_name: 'x' } }), V11).content,
    { membership: 'invite', third_party_invite: {} });
  t.deepEqual(redactPdu(event('m.room.member', { membership: 'invite', third_party_invite: 'x' }), V11).content, { membership: 'invite' });
});

test('always yields a content object, and leaves the input untouched', (t) => {
  const input: JsonObject = { type: 'm.room.member', sender: '@u:example.org' };
  t.deepEqual(redactPdu(input, V11), { type: 'm.room.member', sender: '@u:example.org', content: {} });
  const full = event('m.room.power_levels', POWER_LEVELS);
  const snapshot = structuredClone(full);
  redactPdu(full, V10);
  redactPdu(full, V11);
  t.deepEqual(full, snapshot);
});
