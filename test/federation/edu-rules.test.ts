/**
 * The EDU rules (server-server "EDUs"): a server speaks only for its own users, shapes are checked
 * before anything is applied, and device list updates apply only when their `prev_id` follows the
 * position held (otherwise a resync).
 */
import test from 'ava';
import {
  EduRefused,
  MAX_TO_DEVICE_RECIPIENTS,
  parseDeviceListUpdate,
  parseDirectToDevice,
  parsePresenceEdu,
  parseReceiptEdu,
  parseSigningKeyUpdate,
  parseTypingEdu,
} from '../../src/federation/edus/edu-rules.js';
import { deviceListStep } from '../../src/federation/e2ee/device-list-gaps.js';
import type { JsonObject } from '../../src/core/types.js';

/** Hostile input is any JSON. */
const json = (value: unknown) => value as JsonObject;

const ORIGIN = 'remote.test';
const rob = `@rob:${ORIGIN}`;
const eve = '@eve:elsewhere.test';
const room = '!room:hearth.test';

test('m.typing: a user of the origin is accepted; a user of another server refused', (t) => {
  t.deepEqual(parseTypingEdu(ORIGIN, { room_id: room, user_id: rob, typing: true }), { roomId: room, userId: rob, typing: true });
  t.throws(() => parseTypingEdu(ORIGIN, { room_id: room, user_id: eve, typing: true }), { instanceOf: EduRefused, message: /not a user of remote\.test/ });
  t.throws(() => parseTypingEdu(ORIGIN, { room_id: room, user_id: rob, typing: 'yes' }), { instanceOf: EduRefused });
  t.throws(() => parseTypingEdu(ORIGIN, { room_id: 'not a room', user_id: rob, typing: false }), { instanceOf: EduRefused });
  // A server name that only ends like the origin is another server.
  t.throws(() => parseTypingEdu(ORIGIN, { room_id: room, user_id: '@rob:evilremote.test', typing: true }), { instanceOf: EduRefused });
});

test('m.receipt: m.read receipts of the origin\'s users, with ts and thread; other types skipped; a stranger refuses the EDU', (t) => {
  const content = {
    [room]: {
      'm.read': { [rob]: { event_ids: ['$a', '$b'], data: { ts: 1700, thread_id: 'main' } } },
      'm.read.private': { [rob]: { event_ids: ['$c'], data: { ts: 1 } } },
    },
  };
  t.deepEqual(parseReceiptEdu(ORIGIN, content), [
    { roomId: room, userId: rob, eventId: '$a', ts: 1700, threadId: 'main' },
    { roomId: room, userId: rob, eventId: '$b', ts: 1700, threadId: 'main' },
  ]);
  const withStranger = { [room]: { 'm.read': { [rob]: { event_ids: ['$a'], data: { ts: 1 } }, [eve]: { event_ids: ['$a'], data: { ts: 1 } } } } };
  t.throws(() => parseReceiptEdu(ORIGIN, withStranger), { instanceOf: EduRefused, message: /elsewhere/ });
  t.throws(() => parseReceiptEdu(ORIGIN, { [room]: { 'm.read': { [rob]: { event_ids: ['$a'], data: {} } } } }), { instanceOf: EduRefused, message: /ts/ });
});

test('m.presence: entries of the origin\'s users; a stranger refuses the EDU; status messages are cut', (t) => {
  const out = parsePresenceEdu(ORIGIN, { push: [{ user_id: rob, presence: 'online', last_active_ago: 5, currently_active: true, status_msg: 'x'.repeat(5000) }, { user_id: rob, presence: 'dancing' }] });
  t.is(out.length, 1);
  t.is(out[0]!.presence, 'online');
  t.is(out[0]!.statusMsg!.length, 1000);
  t.throws(() => parsePresenceEdu(ORIGIN, { push: [{ user_id: eve, presence: 'online' }] }), { instanceOf: EduRefused });
  t.throws(() => parsePresenceEdu(ORIGIN, { push: 'online' }), { instanceOf: EduRefused });
});

test('m.device_list_update: ids, stream_id and prev_id checked; keys must be of that device', (t) => {
  const keys = { user_id: rob, device_id: 'PHONE', algorithms: [], keys: {}, signatures: {} };
  t.deepEqual(parseDeviceListUpdate(ORIGIN, { user_id: rob, device_id: 'PHONE', stream_id: 7, prev_id: [5], keys, device_display_name: 'Phone' }), {
    userId: rob, deviceId: 'PHONE', streamId: 7, prevIds: [5], deleted: false, keys, displayName: 'Phone',
  });
  t.deepEqual(parseDeviceListUpdate(ORIGIN, { user_id: rob, device_id: 'PHONE', stream_id: 8, deleted: true }).prevIds, []);
  t.throws(() => parseDeviceListUpdate(ORIGIN, { user_id: eve, device_id: 'PHONE', stream_id: 1 }), { instanceOf: EduRefused });
  t.throws(() => parseDeviceListUpdate(ORIGIN, { user_id: rob, device_id: 'PHONE', stream_id: -1 }), { instanceOf: EduRefused });
  t.throws(() => parseDeviceListUpdate(ORIGIN, { user_id: rob, device_id: 'PHONE', stream_id: 2, prev_id: ['1'] }), { instanceOf: EduRefused });
  t.throws(() => parseDeviceListUpdate(ORIGIN, { user_id: rob, device_id: 'PHONE', stream_id: 2, keys: { ...keys, device_id: 'OTHER' } }), { instanceOf: EduRefused });
  t.throws(() => parseDeviceListUpdate(ORIGIN, { user_id: rob, device_id: 'PHONE', stream_id: 2, keys: { ...keys, user_id: eve } }), { instanceOf: EduRefused });
});

test('m.signing_key_update: keys of the user themself only', (t) => {
  const master = { user_id: rob, usage: ['master'], keys: { 'ed25519:abc': 'abc' } };
  t.deepEqual(parseSigningKeyUpdate(ORIGIN, { user_id: rob, master_key: master }), { userId: rob, masterKey: master });
  t.throws(() => parseSigningKeyUpdate(ORIGIN, { user_id: rob, master_key: { ...master, user_id: eve } }), { instanceOf: EduRefused });
  t.throws(() => parseSigningKeyUpdate(ORIGIN, { user_id: eve, master_key: { ...master, user_id: eve } }), { instanceOf: EduRefused });
  t.throws(() => parseSigningKeyUpdate(ORIGIN, { user_id: rob }), { instanceOf: EduRefused });
});

test('m.direct_to_device: the sender must be of the origin; recipients bounded', (t) => {
  const edu = { sender: rob, type: 'm.room_key_request', message_id: 'm1', messages: { '@alice:hearth.test': { '*': { a: 1 } } } };
  t.is(parseDirectToDevice(ORIGIN, edu).messageId, 'm1');
  t.throws(() => parseDirectToDevice(ORIGIN, { ...edu, sender: eve }), { instanceOf: EduRefused });
  t.throws(() => parseDirectToDevice(ORIGIN, json({ ...edu, message_id: undefined })), { instanceOf: EduRefused });
  const many: Record<string, object> = {};
  for (let i = 0; i <= MAX_TO_DEVICE_RECIPIENTS; i++) many[`D${i}`] = {};
  t.throws(() => parseDirectToDevice(ORIGIN, json({ ...edu, messages: { '@alice:hearth.test': many } })), { instanceOf: EduRefused, message: /recipients/ });
});

test('prev_id gaps: apply when the update follows the held position, ignore the already seen, resync otherwise', (t) => {
  t.is(deviceListStep(undefined, { streamId: 5, prevIds: [4] }), 'resync', 'nothing held');
  t.is(deviceListStep(4, { streamId: 5, prevIds: [4] }), 'apply');
  t.is(deviceListStep(4, { streamId: 9, prevIds: [3, 4] }), 'apply', 'several prev ids, all seen');
  t.is(deviceListStep(5, { streamId: 5, prevIds: [4] }), 'ignore', 'a retransmission');
  t.is(deviceListStep(9, { streamId: 7, prevIds: [6] }), 'ignore', 'older than the snapshot held');
  t.is(deviceListStep(4, { streamId: 7, prevIds: [6] }), 'resync', 'update 6 was lost');
  t.is(deviceListStep(4, { streamId: 7, prevIds: [4, 6] }), 'resync', 'one of the prev ids was lost');
  t.is(deviceListStep(4, { streamId: 7, prevIds: [] }), 'resync', 'no prev id to check');
});
