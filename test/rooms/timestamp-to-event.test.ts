/** GET /v1/rooms/{roomId}/timestamp_to_event: the closest visible event in each direction, and bad input. */
import test from 'ava';
import { call, openRoomStack } from '../helpers/room-stack.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';

test('the first event at or after (f) and the last at or before (b) a timestamp', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const roomId = (await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, { preset: 'private_chat' })).body.room_id as string;
  // Events an hour from now, a minute apart (the engine takes a time, as for bridged readings).
  const base = Date.now() + 3_600_000;
  const ids: string[] = [];
  for (let i = 0; i < 40; i++) {
    const { eventId } = await s.engine.sendEvent(roomId, { type: 'm.room.message', sender: ALICE, content: { msgtype: 'm.text', body: `minute ${i}` } }, { originServerTs: base + i * 60_000 });
    ids.push(eventId);
  }
  const find = (ts: number, dir: string, user = ALICE) => call(s, 'GET', `/_matrix/client/v1/rooms/${encodeURIComponent(roomId)}/timestamp_to_event?ts=${ts}&dir=${dir}`, user);

  t.deepEqual((await find(base + 17 * 60_000 + 1, 'f')).body, { event_id: ids[18], origin_server_ts: base + 18 * 60_000 });
  t.deepEqual((await find(base + 17 * 60_000 + 1, 'b')).body, { event_id: ids[17], origin_server_ts: base + 17 * 60_000 });
  t.is((await find(base + 30 * 60_000, 'f')).body.event_id, ids[30], 'an exact match in either direction');
  t.is((await find(base + 30 * 60_000, 'b')).body.event_id, ids[30]);
  t.is((await find(base + 3 * 60_000 - 1, 'f')).body.event_id, ids[3]);
  const beyond = await find(base + 41 * 60_000, 'f');
  t.is(beyond.status, 404);
  t.is(beyond.body.errcode, 'M_NOT_FOUND');
  t.is((await find(base + 41 * 60_000, 'b')).body.event_id, ids[39]);
  const before = await find(1000, 'b');
  t.is(before.status, 404, 'nothing is that old');

  for (const query of ['ts=abc&dir=f', 'dir=f', 'ts=1&dir=up', 'ts=1']) {
    const res = await call(s, 'GET', `/_matrix/client/v1/rooms/${encodeURIComponent(roomId)}/timestamp_to_event?${query}`, ALICE);
    t.is(res.status, 400, query);
    t.is(res.body.errcode, 'M_INVALID_PARAM', query);
  }
  t.is((await find(base, 'f', BOB)).status, 403, 'not a member');
});

test('a room whose stream positions have gaps (other rooms wrote between its events) is searched, not looped over', async (t) => {
  // Found by the fuzzer (issue 10): with another room's events between this room's, the binary
  // search met `hi` again at a gap and never ended; the request hung and kept a core busy.
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const create = async () => (await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, { preset: 'private_chat' })).body.room_id as string;
  const roomId = await create();
  const other = await create();
  const ids: string[] = [];
  const base = Date.now() + 3_600_000;
  for (let i = 0; i < 12; i++) {
    const content = { msgtype: 'm.text', body: `here ${i}` };
    ids.push((await s.engine.sendEvent(roomId, { type: 'm.room.message', sender: ALICE, content }, { originServerTs: base + i * 60_000 })).eventId);
    for (let j = 0; j < 1 + (i % 3); j++) await s.engine.sendEvent(other, { type: 'm.room.message', sender: ALICE, content: { msgtype: 'm.text', body: `elsewhere ${i}.${j}` } });
  }
  const find = (ts: number, dir: string) => call(s, 'GET', `/_matrix/client/v1/rooms/${encodeURIComponent(roomId)}/timestamp_to_event?ts=${ts}&dir=${dir}`, ALICE);
  const created = (await find(1000, 'f')).body;
  t.is(typeof created.event_id, 'string', 'the oldest event of the room (its creation)');
  t.true(created.origin_server_ts < base);
  t.is((await find(base + 60 * 60_000, 'b')).body.event_id, ids[11], 'the newest event of the room, not of the other');
  for (const i of [0, 5, 11]) {
    t.is((await find(base + i * 60_000, 'b')).body.event_id, ids[i], `an exact match backwards across a gap (${i})`);
    t.is((await find(base + i * 60_000, 'f')).body.event_id, ids[i], `an exact match forwards across a gap (${i})`);
    t.is((await find(base + i * 60_000 + 1, 'b')).body.event_id, ids[i], `the one before (${i})`);
  }
});
