import test from 'ava';
import { decodeBase64 } from '../../src/core/base64.js';
import { CanonicalJsonError, canonicalJson } from '../../src/core/canonical-json.js';
import { type PduTemplate, finalizePdu, newServerEventId } from '../../src/core/event-builder.js';
import { authEventIds, prevEventIds, referencedEventIds } from '../../src/core/event-references.js';
import { verifyEventSignature } from '../../src/core/event-verification.js';
import { addContentHash, computeContentHash, computeEventId, hasValidContentHash, referenceHashBase64 } from '../../src/core/hashes.js';
import { toRoomEvent } from '../../src/core/room-event.js';
import { getRoomVersionRules } from '../../src/core/room-versions.js';
import { signingKeyFromSeed } from '../../src/core/signing.js';
import type { JsonObject, Pdu } from '../../src/core/types.js';

/**
 * Event ids and hashes in each event format: v1/v2 (rooms/v1 "Event IDs", pdu_v1), v3 (rooms/v3
 * "Event IDs", standard base64) and v4+ (rooms/v4, URL-safe). Expected values not from the
 * appendices were computed outside this code base with Python's json.dumps(sort_keys=True,
 * separators=(',', ':'), ensure_ascii=False), hashlib and base64, over redacted forms written by hand.
 */
const rules = (id: string) => getRoomVersionRules(id)!;
const KEY = signingKeyFromSeed(decodeBase64('YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1'), 'ed25519:1');

test('appendix "Event Signing", the event that carries its event_id, is a room version 1 event', (t) => {
  const template = {
    content: { body: 'Here is the message content' }, event_id: '$0:domain', origin: 'domain', origin_server_ts: 1000000,
    type: 'm.room.message', room_id: '!r:domain', sender: '@u:domain', unsigned: { age_ts: 1000000 },
  } as unknown as PduTemplate;
  for (const version of ['1', '2']) {
    const { pdu, eventId } = finalizePdu(template, { rules: rules(version), serverName: 'domain', key: KEY });
    t.is(eventId, '$0:domain', 'the id is the one carried, never a hash');
    t.is(pdu.hashes.sha256, 'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g');
    t.deepEqual(pdu.signatures, { domain: { 'ed25519:1': 'Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA' } });
    t.is(computeEventId(pdu, rules(version)), '$0:domain');
    t.is(toRoomEvent(pdu, rules(version)).event_id, '$0:domain');
    t.true(verifyEventSignature(pdu, rules(version), 'domain', 'ed25519:1', KEY.publicKey));
  }
});

test('v1/v2: an event without its event_id has no id', (t) => {
  const pdu = { type: 'm.room.message', content: {}, room_id: '!r:x', sender: '@u:x', prev_events: [], auth_events: [], depth: 1, origin_server_ts: 1, hashes: { sha256: '' }, signatures: {} } as Pdu;
  t.throws(() => computeEventId(pdu, rules('1')), { instanceOf: RangeError });
  t.throws(() => toRoomEvent(pdu, rules('2')), { instanceOf: RangeError });
});

const V1_MESSAGE: JsonObject = {
  auth_events: [['$create:hearth.local', { sha256: 'abc' }]],
  content: { body: 'hello', msgtype: 'm.text' },
  depth: 5,
  event_id: '$AbCdEfGhIjKlMnOpQr:hearth.local',
  origin: 'hearth.local',
  origin_server_ts: 1720000000000,
  prev_events: [['$prev:hearth.local', { sha256: 'def' }]],
  room_id: '!kitchen:hearth.local',
  sender: '@alice:hearth.local',
  type: 'm.room.message',
};

test('v1: content hash covers the event_id; the reference hash (for [id, {sha256}] pairs) covers the redacted event', (t) => {
  const hashed = addContentHash(V1_MESSAGE, rules('1'));
  t.is(hashed.hashes.sha256, 'Y46Stwf6UY4ZTbOb1i+cCIhY4wQblxb0gGHmzsPXOEM');
  t.not(computeContentHash({ ...V1_MESSAGE, event_id: '$other:hearth.local' }), hashed.hashes.sha256);
  t.is(referenceHashBase64(hashed as unknown as Pdu, rules('1')), 'vcNIhH9vATZR/8QcIrdbxkb03x12dPvxZzIzuJ6x7HU');
  // Redaction keeps the reference hash: message content is not protected.
  t.is(referenceHashBase64({ ...hashed, content: {} } as unknown as Pdu, rules('1')), 'vcNIhH9vATZR/8QcIrdbxkb03x12dPvxZzIzuJ6x7HU');
});

test('v3 ids are standard base64 of the reference hash, v4+ URL-safe, of the same hash', (t) => {
  const message: JsonObject = {
    auth_events: ['$create'], content: { body: 'msg 2', msgtype: 'm.text' }, depth: 5, origin_server_ts: 1720000000000,
    prev_events: ['$prev'], room_id: '!kitchen:hearth.local', sender: '@alice:hearth.local', type: 'm.room.message',
  };
  const hashed = addContentHash(message);
  t.is(hashed.hashes.sha256, 'YItia6XAMiCblFXFxAUvTzMdX+3aobYwwhFHqYVnHcE');
  t.is(computeEventId(hashed, rules('3')), '$MJi/Id0wmlGc+pE2akhPUerpfhAdoQW4wqsD3lcHhyw');
  for (const version of ['4', '5', '6', '7', '8', '9']) {
    t.is(computeEventId(hashed, rules(version)), '$MJi_Id0wmlGc-pE2akhPUerpfhAdoQW4wqsD3lcHhyw', version);
  }
  // A v3+ event's own `event_id` field is not its id (v3+ redaction keeps a top-level
  // `event_id`, so it changes the hash, but is never taken as the id).
  t.regex(computeEventId({ ...hashed, event_id: '$forged:evil.example' }, rules('4')), /^\$[A-Za-z0-9_-]{43}$/);
});

test('v1/v2 authoring: a server-generated $opaque:server id, prev/auth events as [id, {sha256}] pairs, signed and hashed', (t) => {
  const references = new Map([['$prev:hearth.local', 'cHJldg'], ['$create:hearth.local', 'Y3JlYXRl']]);
  const template: PduTemplate = {
    auth_events: ['$create:hearth.local'], content: { body: 'hi', msgtype: 'm.text' }, depth: 2, origin_server_ts: 1720000000000,
    prev_events: ['$prev:hearth.local'], room_id: '!kitchen:hearth.local', sender: '@alice:hearth.local', type: 'm.room.message',
  };
  const v2 = rules('2');
  const { pdu, eventId } = finalizePdu(template, { rules: v2, serverName: 'hearth.local', key: KEY, referenceHashOf: (id) => references.get(id) });
  t.regex(eventId, /^\$[A-Za-z]{18}:hearth\.local$/);
  t.is(pdu.event_id, eventId);
  t.deepEqual(pdu.prev_events, [['$prev:hearth.local', { sha256: 'cHJldg' }]]);
  t.deepEqual(pdu.auth_events, [['$create:hearth.local', { sha256: 'Y3JlYXRl' }]]);
  t.deepEqual(prevEventIds(pdu), ['$prev:hearth.local']);
  t.deepEqual(authEventIds(pdu), ['$create:hearth.local']);
  t.true(hasValidContentHash(pdu, v2));
  t.true(verifyEventSignature(pdu, v2, 'hearth.local', 'ed25519:1', KEY.publicKey));
  t.is(toRoomEvent(pdu, v2).event_id, eventId);
  // Two events never share an id.
  t.not(finalizePdu(template, { rules: v2, serverName: 'hearth.local', key: KEY, referenceHashOf: (id) => references.get(id) }).eventId, eventId);
  // A reference whose hash is unknown cannot be written.
  t.throws(() => finalizePdu(template, { rules: v2, serverName: 'hearth.local', key: KEY }), { instanceOf: RangeError });
  // v3+: the same template keeps bare ids and gets no event_id.
  const v3 = finalizePdu(template, { rules: rules('3'), serverName: 'hearth.local', key: KEY });
  t.deepEqual(v3.pdu.prev_events, ['$prev:hearth.local']);
  t.false('event_id' in v3.pdu);
});

test('v1/v2: a template carrying another server\'s event id (a remote make_join) gets one of ours', (t) => {
  const template = {
    auth_events: [], content: { membership: 'join' }, depth: 3, event_id: '$resident:synapse.example', origin_server_ts: 1,
    prev_events: [], room_id: '!r:synapse.example', sender: '@alice:hearth.local', state_key: '@alice:hearth.local', type: 'm.room.member',
  } as PduTemplate;
  const { eventId } = finalizePdu(template, { rules: rules('1'), serverName: 'hearth.local', key: KEY });
  t.regex(eventId, /^\$[A-Za-z]{18}:hearth\.local$/);
  const own = finalizePdu({ ...template, event_id: '$mine:hearth.local' }, { rules: rules('1'), serverName: 'hearth.local', key: KEY });
  t.is(own.eventId, '$mine:hearth.local');
});

test('newServerEventId: $ + 18 letters + : + server name', (t) => {
  t.regex(newServerEventId('example.org:8448'), /^\$[A-Za-z]{18}:example\.org:8448$/);
});

test('referencedEventIds reads both formats and skips malformed entries', (t) => {
  t.deepEqual(referencedEventIds(['$a', '$b']), ['$a', '$b']);
  t.deepEqual(referencedEventIds([['$a:x', { sha256: 'h' }], ['$b:x', { sha256: 'h' }]]), ['$a:x', '$b:x']);
  t.deepEqual(referencedEventIds([['$a:x', { sha256: 'h' }], 7, [8, {}], null, '$c'] as never), ['$a:x', '$c']);
  t.deepEqual(referencedEventIds(undefined), []);
  t.deepEqual(referencedEventIds('nope' as never), []);
});

test('v1-v5 hash floats as written (v1-floaty-power-levels); v6+ refuse them (rooms/v6 "Canonical JSON")', (t) => {
  const powerLevels: JsonObject = {
    auth_events: [['$create:hearth.local', { sha256: 'abc' }]],
    content: { ban: 50, users: { '@bob:localhost': 50.57, '@alice:localhost': '100' }, users_default: 0 },
    depth: 3, event_id: '$pl:hearth.local', origin_server_ts: 1720000000000,
    prev_events: [['$prev:hearth.local', { sha256: 'def' }]], room_id: '!kitchen:hearth.local', sender: '@alice:hearth.local',
    state_key: '', type: 'm.room.power_levels',
  };
  for (const version of ['1', '5']) {
    t.is(computeContentHash(powerLevels, rules(version)), '1aQwhbGOX4F0/mQouFVsOq53afk/dXToWlBawJU+YTw', version);
    t.is(referenceHashBase64(powerLevels as unknown as Pdu, rules(version)), '1aQwhbGOX4F0/mQouFVsOq53afk/dXToWlBawJU+YTw');
  }
  t.throws(() => computeContentHash(powerLevels, rules('6')), { instanceOf: CanonicalJsonError });
  t.throws(() => computeContentHash(powerLevels), { instanceOf: CanonicalJsonError });
  // Python's float repr, exponent included. (A float with an integral value, 1.5e16, reads back
  // as an integer in JavaScript and is written as one: such events cannot be re-hashed exactly.)
  t.is(canonicalJson({ a: 1e-5, b: 1.5e-7, c: 50.57, d: 0.0001, e: 1.25e300 }, { strict: false }), '{"a":1e-05,"b":1.5e-07,"c":50.57,"d":0.0001,"e":1.25e+300}');
  t.throws(() => canonicalJson({ a: Infinity }, { strict: false }), { instanceOf: CanonicalJsonError });
});
