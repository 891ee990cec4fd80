/**
 * GET /rooms/{roomId}/event/{eventId} reveals nothing to someone who cannot see the room: an event
 * of a room they are not in, an unknown event and an unknown room answer alike, 404 M_NOT_FOUND
 * (client-server "GET /rooms/{roomId}/event/{eventId}": "not found or you do not have permission";
 * Synapse turns its 403 into that 404).
 */
import test from 'ava';
import { call, openRoomStack } from '../helpers/room-stack.js';

const ALICE = '@alice:test.local';
const CAROL = '@carol:test.local';
const V3 = '/_matrix/client/v3';
const enc = encodeURIComponent;

test('an outsider asking for an event of a room they cannot see gets the answer of an unknown event', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const roomId = (await call(s, 'POST', `${V3}/createRoom`, ALICE, { preset: 'private_chat' })).body.room_id as string;
  const sent = await call(s, 'PUT', `${V3}/rooms/${enc(roomId)}/send/m.room.message/t1`, ALICE, { msgtype: 'm.text', body: 'secret' });
  const hidden = await call(s, 'GET', `${V3}/rooms/${enc(roomId)}/event/${enc(sent.body.event_id)}`, CAROL);
  const unknownEvent = await call(s, 'GET', `${V3}/rooms/${enc(roomId)}/event/${enc('$nothing')}`, CAROL);
  const unknownRoom = await call(s, 'GET', `${V3}/rooms/${enc('!nowhere:test.local')}/event/${enc(sent.body.event_id)}`, CAROL);
  t.is(hidden.status, 404);
  t.deepEqual(hidden.body, { errcode: 'M_NOT_FOUND', error: 'Event not found' });
  t.deepEqual(unknownEvent, hidden);
  t.deepEqual(unknownRoom, hidden);
  t.is((await call(s, 'GET', `${V3}/rooms/${enc(roomId)}/event/${enc(sent.body.event_id)}`, ALICE)).body.content.body, 'secret');
});

test('a world-readable room shows its events to anyone', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const roomId = (await call(s, 'POST', `${V3}/createRoom`, ALICE, {
    preset: 'public_chat',
    initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'world_readable' } }],
  })).body.room_id as string;
  const sent = await call(s, 'PUT', `${V3}/rooms/${enc(roomId)}/send/m.room.message/t1`, ALICE, { msgtype: 'm.text', body: 'for all' });
  const read = await call(s, 'GET', `${V3}/rooms/${enc(roomId)}/event/${enc(sent.body.event_id)}`, CAROL);
  t.is(read.status, 200);
  t.is(read.body.content.body, 'for all');
});
