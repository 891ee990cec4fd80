import test from 'ava';
import { decodeBase64 } from '../../src/core/base64.js';
import { type PduTemplate, finalizePdu } from '../../src/core/event-builder.js';
import { verifyEventSignature } from '../../src/core/event-verification.js';
import { redactPdu } from '../../src/core/redaction.js';
import { SUPPORTED_ROOM_VERSIONS, getRoomVersionRules } from '../../src/core/room-versions.js';
import { signingKeyFromSeed } from '../../src/core/signing.js';
import type { JsonObject } from '../../src/core/types.js';

/**
 * The redaction algorithm of every room version: rooms/v1 "Redactions" (v1-v5), v6 (v6, v7), v8,
 * v9 (v9, v10), v11 (v11, v12). One row per event type whose protected keys changed.
 */
const rules = (id: string) => getRoomVersionRules(id)!;

function event(type: string, content: JsonObject): JsonObject {
  return {
    auth_events: [['$a:x', { sha256: 'h' }]], content, depth: 4, event_id: '$e:x', hashes: { sha256: 'h' }, membership: 'join',
    origin: 'x', origin_server_ts: 5, prev_events: [['$p:x', { sha256: 'h' }]], prev_state: [], room_id: '!r:x',
    sender: '@u:x', signatures: { x: { 'ed25519:1': 's' } }, state_key: '', type, unsigned: { age: 1 }, redacts: '$y:x',
  };
}

/** What survives, per version 1..12, for one event. */
function keptContent(type: string, content: JsonObject): JsonObject[] {
  return SUPPORTED_ROOM_VERSIONS.map((id) => redactPdu(event(type, content), rules(id)).content as JsonObject);
}

const repeat = <T>(value: T, times: number): T[] => Array.from({ length: times }, () => value);

test('m.room.aliases keeps `aliases` in v1-v5 only (rooms/v6 "Redactions")', (t) => {
  t.deepEqual(keptContent('m.room.aliases', { aliases: ['#a:x'], other: 1 }), [...repeat({ aliases: ['#a:x'] }, 5), ...repeat({}, 7)]);
});

test('m.room.join_rules keeps `allow` from v8 (rooms/v8 "Redactions")', (t) => {
  const content = { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: '!s:x' }], other: 1 };
  t.deepEqual(keptContent('m.room.join_rules', content), [
    ...repeat({ join_rule: 'restricted' }, 7),
    ...repeat({ join_rule: 'restricted', allow: content.allow }, 5),
  ]);
});

test('m.room.member keeps `join_authorised_via_users_server` from v9, `third_party_invite.signed` from v11', (t) => {
  const content = { membership: 'join', displayname: 'U', join_authorised_via_users_server: '@a:x', third_party_invite: { display_name: 'd', signed: { token: 't' } } };
  t.deepEqual(keptContent('m.room.member', content), [
    ...repeat({ membership: 'join' }, 8),
    ...repeat({ membership: 'join', join_authorised_via_users_server: '@a:x' }, 2),
    ...repeat({ membership: 'join', join_authorised_via_users_server: '@a:x', third_party_invite: { signed: { token: 't' } } }, 2),
  ]);
});

test('m.room.create keeps `creator` up to v10, everything from v11', (t) => {
  const content = { creator: '@u:x', room_version: '1', 'm.federate': false };
  t.deepEqual(keptContent('m.room.create', content), [...repeat({ creator: '@u:x' }, 10), ...repeat(content, 2)]);
});

test('m.room.power_levels keeps `invite` from v11; `notifications` never', (t) => {
  const content = { ban: 50, events: {}, events_default: 0, invite: 0, kick: 50, redact: 50, state_default: 50, users: {}, users_default: 0, notifications: { room: 50 } };
  const { invite: _invite, notifications: _notifications, ...withoutInvite } = content;
  const { notifications: _n, ...withInvite } = content;
  t.deepEqual(keptContent('m.room.power_levels', content), [...repeat(withoutInvite, 10), ...repeat(withInvite, 2)]);
});

test('top-level origin, membership and prev_state survive up to v10; redacts never at top level; unsigned never', (t) => {
  for (const id of SUPPORTED_ROOM_VERSIONS) {
    const redacted = redactPdu(event('m.room.message', { body: 'hi' }), rules(id));
    const old = Number(id) <= 10;
    t.is('origin' in redacted && 'membership' in redacted && 'prev_state' in redacted, old, id);
    t.false('redacts' in redacted, id);
    t.false('unsigned' in redacted, id);
    t.deepEqual(redacted.content, {}, id);
    // v1/v2 events keep their id and their reference pairs.
    t.is(redacted.event_id, '$e:x');
    t.deepEqual(redacted.prev_events, [['$p:x', { sha256: 'h' }]]);
  }
});

test('a v1 signature survives redaction: appendix "Event Signing" event, redacted, still verifies', (t) => {
  const key = signingKeyFromSeed(decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1'), 'ed25519:1');
  const template = {
    content: { body: 'Here is the message content' }, event_id: '$0:domain', origin: 'domain', origin_server_ts: 1000000,
    type: 'm.room.message', room_id: '!r:domain', sender: '@u:domain', unsigned: { age_ts: 1000000 },
  } as unknown as PduTemplate;
  const { pdu } = finalizePdu(template, { rules: rules('1'), serverName: 'domain', key });
  const redacted = redactPdu(pdu, rules('1'));
  t.deepEqual(redacted.content, {});
  t.true(verifyEventSignature(redacted, rules('1'), 'domain', 'ed25519:1', key.publicKey));
  // The aliases of a v1 room are protected, hence signed over: changing them breaks the signature.
  const aliases = finalizePdu({ ...template, type: 'm.room.aliases', state_key: 'domain', content: { aliases: ['#a:domain'] } } as PduTemplate, { rules: rules('1'), serverName: 'domain', key }).pdu;
  t.false(verifyEventSignature({ ...aliases, content: { aliases: ['#b:domain'] } }, rules('1'), 'domain', 'ed25519:1', key.publicKey));
  // From v6 they are not: the signature of a v6 aliases event does not cover them.
  const aliasesV6 = finalizePdu({ ...template, event_id: undefined, type: 'm.room.aliases', state_key: 'domain', content: { aliases: ['#a:domain'] } } as unknown as PduTemplate, { rules: rules('6'), serverName: 'domain', key }).pdu;
  t.true(verifyEventSignature({ ...aliasesV6, content: { aliases: ['#b:domain'] } }, rules('6'), 'domain', 'ed25519:1', key.publicKey));
});
