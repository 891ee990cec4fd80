/**
 * Issue 10, finding 1 (critical): a moderator sent a state event of type `m.room.power_levels\0`;
 * after a restart it loaded as the room's power levels and the moderator could kick the creator.
 * Refused at the API (path parameter grammar) and in the engine (every draft, whatever its origin:
 * the MQTT bridge sends through `sendEvent`), and storage keeps such a pair apart anyway
 * (test/storage/unambiguous-keys.test.ts).
 */
import test from 'ava';
import { call, openRoomStack } from '../helpers/room-stack.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';
const room = (id: string) => `/_matrix/client/v3/rooms/${encodeURIComponent(id)}`;

test('a moderator cannot make themselves admin with a NUL in a state type, before or after a restart', async (t) => {
  let s = await openRoomStack();
  const created = await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, {
    // v11: the creator's power is in the power levels (in v12 creators are above them anyway).
    room_version: '11',
    preset: 'public_chat',
    power_level_content_override: { users: { [ALICE]: 100, [BOB]: 50 } },
  });
  const roomId = created.body.room_id as string;
  t.is((await call(s, 'POST', `${room(roomId)}/join`, BOB, {})).status, 200);

  const forged = { users: { [ALICE]: 0, [BOB]: 100 }, users_default: 0 };
  for (const type of ['m.room.power_levels%00', 'm.room.power_levels%00x', '%00']) {
    const attack = await call(s, 'PUT', `${room(roomId)}/state/${type}`, BOB, forged);
    t.is(attack.status, 400, type);
    t.is(attack.body.errcode, 'M_INVALID_PARAM');
  }
  const keyAttack = await call(s, 'PUT', `${room(roomId)}/state/m.room.power_levels/%00`, BOB, forged);
  t.is(keyAttack.status, 400);
  const sendAttack = await call(s, 'PUT', `${room(roomId)}/send/m.room.message%00/t1`, BOB, { body: 'x' });
  t.is(sendAttack.status, 400);
  // The engine refuses it too, for the bridge and anything else that does not come through a path.
  const direct = await t.throwsAsync(s.engine.sendEvent(roomId, { type: 'm.room.power_levels\u0000', state_key: '', sender: BOB, content: forged }));
  t.regex(direct!.message, /event type/);
  await t.throwsAsync(s.engine.sendEvent(roomId, { type: 'org.example', state_key: 'a\u0000', sender: BOB, content: {} }));
  await t.throwsAsync(s.engine.sendEvent(roomId, { type: 'x'.repeat(256), sender: BOB, content: {} }));

  await s.close();
  s = await openRoomStack(s.dir, s.key);
  t.teardown(() => s.close());
  const pl = await call(s, 'GET', `${room(roomId)}/state/m.room.power_levels`, BOB);
  t.is(pl.body.users?.[ALICE], 100, JSON.stringify(pl.body));
  t.is(pl.body.users[BOB], 50);
  const kick = await call(s, 'POST', `${room(roomId)}/kick`, BOB, { user_id: ALICE });
  t.is(kick.status, 403);
  const members = await call(s, 'GET', `${room(roomId)}/joined_members`, ALICE);
  t.truthy(members.body.joined[ALICE], 'the creator is still in the room');
});

test('ids in paths follow the identifier grammar: NUL, bad sigils and over 255 bytes are 400 M_INVALID_PARAM', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const roomId = (await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, {})).body.room_id as string;
  const bad = [
    `/_matrix/client/v3/rooms/${encodeURIComponent('!abc\u0000:test.local')}/state`,
    `/_matrix/client/v3/rooms/not-a-room/state`,
    `/_matrix/client/v3/rooms/${encodeURIComponent(`!${'a'.repeat(260)}:test.local`)}/state`,
    `${room(roomId)}/event/${encodeURIComponent('$abc\u0000')}`,
    `${room(roomId)}/state/${'t'.repeat(256)}`,
    `/_matrix/client/v3/profile/${encodeURIComponent('@al\u0000ice:test.local')}`,
    `/_matrix/client/v3/directory/room/${encodeURIComponent('#a\u0000:test.local')}`,
  ];
  for (const url of bad) {
    const r = await call(s, 'GET', url, ALICE);
    t.is(r.status, 400, url);
    t.is(r.body.errcode, 'M_INVALID_PARAM', url);
  }
  // Valid but unknown ids still reach their handlers.
  t.is((await call(s, 'GET', `${room(roomId)}/event/$nope`, ALICE)).status, 404);
  t.is((await call(s, 'GET', `${room(roomId)}/state/org.example/${'k'.repeat(255)}`, ALICE)).status, 404);
});

test('a transaction id is scoped to its room and event type: the same txnId elsewhere is a new message', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const one = (await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, {})).body.room_id as string;
  const two = (await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, {})).body.room_id as string;
  const first = await call(s, 'PUT', `${room(one)}/send/m.room.message/same`, ALICE, { msgtype: 'm.text', body: 'in one' });
  const retried = await call(s, 'PUT', `${room(one)}/send/m.room.message/same`, ALICE, { msgtype: 'm.text', body: 'in one' });
  t.is(retried.body.event_id, first.body.event_id, 'a retry in the same room returns the first event');
  const other = await call(s, 'PUT', `${room(two)}/send/m.room.message/same`, ALICE, { msgtype: 'm.text', body: 'in two' });
  t.is(other.status, 200);
  t.not(other.body.event_id, first.body.event_id);
  const otherType = await call(s, 'PUT', `${room(one)}/send/org.example.note/same`, ALICE, { body: 'a note' });
  t.not(otherType.body.event_id, first.body.event_id);

  const inTwo = await call(s, 'GET', `${room(two)}/event/${encodeURIComponent(other.body.event_id)}`, ALICE);
  t.is(inTwo.body.content.body, 'in two');
  const note = await call(s, 'GET', `${room(one)}/event/${encodeURIComponent(otherType.body.event_id)}`, ALICE);
  t.is(note.body.type, 'org.example.note');
  // A redaction with the same txnId is another endpoint too.
  const redaction = await call(s, 'PUT', `${room(one)}/redact/${encodeURIComponent(first.body.event_id)}/same`, ALICE, {});
  t.is(redaction.status, 200);
  t.not(redaction.body.event_id, first.body.event_id);
});

test('ids in bodies: a membership for a non-user id and an alias name with NUL or past 255 bytes are refused', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const roomId = (await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, {})).body.room_id as string;
  const invite = await call(s, 'POST', `${room(roomId)}/invite`, ALICE, { user_id: '@bo\u0000b:test.local' });
  t.is(invite.status, 400);
  const member = await call(s, 'PUT', `${room(roomId)}/state/m.room.member/not-a-user`, ALICE, { membership: 'invite' });
  t.is(member.status, 400);
  t.is(member.body.errcode, 'M_BAD_JSON');
  for (const name of ['a\u0000b', 'x'.repeat(250)]) {
    const created = await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, { room_alias_name: name });
    t.is(created.status, 400, name.slice(0, 10));
    t.is(created.body.errcode, 'M_INVALID_PARAM');
  }
});
