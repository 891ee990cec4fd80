import test from 'ava';
import { decodeBase64, encodeUrlSafeBase64 } from '../../src/core/base64.js';
import {
  addContentHash,
  computeContentHash,
  computeEventId,
  computeReferenceHash,
  computeRoomIdFromCreateEvent,
  hasValidContentHash,
} from '../../src/core/hashes.js';
import { getRoomVersionRules } from '../../src/core/room-versions.js';
import type { JsonObject } from '../../src/core/types.js';
import { CREATE_V12, MESSAGE_V11 } from './reference-events.js';

const V10 = getRoomVersionRules('10')!;
const V11 = getRoomVersionRules('11')!;
const V12 = getRoomVersionRules('12')!;

// Expected hashes and ids below were computed outside this code base with the spec's reference
// procedure: Python's json.dumps(sort_keys=True, separators=(',', ':'), ensure_ascii=False),
// hashlib.sha256 and base64, over redacted forms written out by hand.
const MESSAGE: JsonObject = { ...MESSAGE_V11 };

const CREATE: JsonObject = { ...CREATE_V12 };

const MEMBER: JsonObject = {
  auth_events: ['$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'],
  content: { membership: 'join', displayname: 'Alice' },
  depth: 2,
  origin_server_ts: 1720000000001,
  prev_events: ['$aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'],
  room_id: '!kitchen:hearth.local',
  sender: '@alice:hearth.local',
  state_key: '@alice:hearth.local',
  type: 'm.room.member',
};

test('content hashes of the appendix test events ("Event Signing")', (t) => {
  const minimal = {
    room_id: '!x:domain', sender: '@a:domain', origin: 'domain', origin_server_ts: 1000000, signatures: {}, hashes: {},
    type: 'X', content: {}, prev_events: [], auth_events: [], depth: 3, unsigned: { age_ts: 1000000 },
  };
  t.is(computeContentHash(minimal), '5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos');
  const message = {
    content: { body: 'Here is the message content' }, event_id: '$0:domain', origin: 'domain', origin_server_ts: 1000000,
    type: 'm.room.message', room_id: '!r:domain', sender: '@u:domain', signatures: {}, unsigned: { age_ts: 1000000 },
  };
  t.is(computeContentHash(message), 'onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g');
});

test('content hash ignores unsigned, signatures and existing hashes but covers the full content', (t) => {
  const base = computeContentHash(MESSAGE);
  t.is(base, 'f1j4AP8ZpiExuJXbv6sGL2duUTIFWXqR0XUUOO2UJfA');
  t.is(computeContentHash({ ...MESSAGE, unsigned: { age: 5 }, signatures: { x: {} }, hashes: { sha256: 'zzz' } }), base);
  t.not(computeContentHash({ ...MESSAGE, content: { body: '22.6 °C', msgtype: 'm.text' } }), base);
});

test('addContentHash and hasValidContentHash', (t) => {
  const hashed = addContentHash(MEMBER);
  t.deepEqual(hashed.hashes, { sha256: 'XQV8K8y3Bq3ldnnFA7ti7Zg+q32pIaDYJpC2/5wIl9s' });
  t.false('hashes' in MEMBER);
  t.true(hasValidContentHash(hashed));
  t.true(hasValidContentHash({ ...hashed, hashes: { sha256: 'XQV8K8y3Bq3ldnnFA7ti7Zg+q32pIaDYJpC2/5wIl9s=' } }));
  t.false(hasValidContentHash({ ...hashed, content: { membership: 'join' } }));
  t.false(hasValidContentHash({ ...hashed, hashes: { sha256: 'not base64!' } }));
  t.false(hasValidContentHash(MEMBER));
});

test('event id of a v11 message: reference hash over the redacted event', (t) => {
  const hashed = addContentHash(MESSAGE);
  t.is(computeEventId(hashed, V11), '$cdQgYdrZxqvqPVLKeNT0J_ddirh9JKwQz6qOdU5zd0o');
  // Redactable parts (content, unsigned) and signatures do not change the id.
  t.is(computeEventId({ ...hashed, content: {}, unsigned: { other: 1 }, signatures: { a: { b: 'c' } } }, V11),
    '$cdQgYdrZxqvqPVLKeNT0J_ddirh9JKwQz6qOdU5zd0o');
  t.is('$' + encodeUrlSafeBase64(computeReferenceHash(hashed, V11)), '$cdQgYdrZxqvqPVLKeNT0J_ddirh9JKwQz6qOdU5zd0o');
});

test('event id of a v10 member event keeps only membership from content', (t) => {
  const hashed = addContentHash(MEMBER);
  t.is(computeEventId(hashed, V10), '$mcghDNpk6o_0DWpDpPE14viMfSQRTA19VwEy7w6iL5k');
  t.is(computeEventId({ ...hashed, content: { membership: 'join' } }, V10), '$mcghDNpk6o_0DWpDpPE14viMfSQRTA19VwEy7w6iL5k');
});

test('room version 12: room id is the create event id with ! instead of $', (t) => {
  const hashed = addContentHash(CREATE);
  t.is(hashed.hashes.sha256, 'ts9CAweeYeuyhvdqxdXZ6qO0TZR18KxnDpl/NciENcM');
  const eventId = computeEventId(hashed, V12);
  t.is(eventId, '$7ZkWbEa74w43oAXiQy6VwqMjBf90KSxOvrYRt_zuwK4');
  t.is(computeRoomIdFromCreateEvent(eventId), '!7ZkWbEa74w43oAXiQy6VwqMjBf90KSxOvrYRt_zuwK4');
  t.is(decodeBase64(eventId.slice(1)).length, 32);
  t.throws(() => computeRoomIdFromCreateEvent('!already:room'));
});
