/**
 * JSON at the edge (issue 10, findings 5 and 6): 10,000 nested levels gave a 500, ~4,000 were stored
 * and broke matrix-nio's sync; a float or 1e30 in power levels gave a 500; a lone surrogate gave a
 * 500; `join_rule: 5` was accepted; invalid UTF-8 was silently replaced. Each is now a 400 with the
 * errcode Synapse gives, and the room is unchanged.
 */
import test from 'ava';
import { call, openRoomStack, type RoomStack } from '../helpers/room-stack.js';

const ALICE = '@alice:test.local';
const room = (id: string) => `/_matrix/client/v3/rooms/${encodeURIComponent(id)}`;

async function put(s: RoomStack, url: string, payload: string | Buffer): Promise<{ status: number; body: any }> {
  const res = await s.app.inject({ method: 'PUT', url, headers: { authorization: `Bearer ${ALICE}|DEV1`, 'content-type': 'application/json' }, payload });
  return { status: res.statusCode, body: JSON.parse(res.body) };
}

async function setup(t: import('ava').ExecutionContext) {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const roomId = (await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, { room_version: '11' })).body.room_id as string;
  return { s, roomId };
}

test('deep nesting is 400 M_BAD_JSON, not a 500 and not stored', async (t) => {
  const { s, roomId } = await setup(t);
  for (const depth of [101, 4000, 10_000]) {
    const r = await put(s, `${room(roomId)}/send/org.example.deep/d${depth}`, `{"a":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    t.is(r.status, 400, `${depth}`);
    t.is(r.body.errcode, 'M_BAD_JSON');
  }
  const ok = await put(s, `${room(roomId)}/send/org.example.deep/d99`, `{"a":${'['.repeat(98)}${']'.repeat(98)}}`);
  t.is(ok.status, 200, 'the limit counts the content object as level 1');
  const messages = await call(s, 'GET', `${room(roomId)}/messages?dir=b&limit=5`, ALICE);
  t.deepEqual(messages.body.chunk.filter((e: { type: string }) => e.type === 'org.example.deep').length, 1);
});

test('floats and unsafe integers in power levels are 400 M_BAD_JSON and change nothing', async (t) => {
  const { s, roomId } = await setup(t);
  const before = (await call(s, 'GET', `${room(roomId)}/state/m.room.power_levels`, ALICE)).body;
  for (const text of ['{"users":{"@alice:test.local":100},"ban":1.5}', '{"users":{"@alice:test.local":1e30}}', '{"users":{"@alice:test.local":100.0}}', '{"users":{"@alice:test.local":9007199254740992}}']) {
    const r = await put(s, `${room(roomId)}/state/m.room.power_levels`, text);
    t.is(r.status, 400, text);
    t.is(r.body.errcode, 'M_BAD_JSON', text);
  }
  t.deepEqual((await call(s, 'GET', `${room(roomId)}/state/m.room.power_levels`, ALICE)).body, before);
  // A float in a message is refused the same way (event content is canonical JSON).
  t.is((await put(s, `${room(roomId)}/send/m.room.message/f1`, '{"msgtype":"m.text","body":"x","n":0.5}')).body.errcode, 'M_BAD_JSON');
  // So is a power level override at room creation.
  const created = await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, { power_level_content_override: { kick: 1e30 } });
  t.is(created.status, 400);
  t.is(created.body.errcode, 'M_BAD_JSON');
});

test('a lone surrogate is 400 M_NOT_JSON; invalid UTF-8 is 400 M_NOT_JSON, not replaced', async (t) => {
  const { s, roomId } = await setup(t);
  const lone = await put(s, `${room(roomId)}/send/m.room.message/s1`, '{"msgtype":"m.text","body":"\\ud800"}');
  t.is(lone.status, 400);
  t.is(lone.body.errcode, 'M_NOT_JSON');
  const bytes = Buffer.concat([Buffer.from('{"msgtype":"m.text","body":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]);
  const utf8 = await put(s, `${room(roomId)}/send/m.room.message/s2`, bytes);
  t.is(utf8.status, 400);
  t.is(utf8.body.errcode, 'M_NOT_JSON');
  const pair = await put(s, `${room(roomId)}/send/m.room.message/s3`, '{"msgtype":"m.text","body":"\\ud83d\\ude00"}');
  t.is(pair.status, 200);
  const event = await call(s, 'GET', `${room(roomId)}/event/${encodeURIComponent(pair.body.event_id)}`, ALICE);
  t.is(event.body.content.body, '😀');
});

test('wrongly typed well-known state is 400 M_BAD_JSON: join_rule 5, a numeric name, an unknown membership', async (t) => {
  const { s, roomId } = await setup(t);
  const joinRule = await call(s, 'PUT', `${room(roomId)}/state/m.room.join_rules`, ALICE, { join_rule: 5 });
  t.is(joinRule.status, 400);
  t.is(joinRule.body.errcode, 'M_BAD_JSON');
  t.is((await call(s, 'PUT', `${room(roomId)}/state/m.room.name`, ALICE, { name: 7 })).body.errcode, 'M_BAD_JSON');
  t.is((await call(s, 'PUT', `${room(roomId)}/state/m.room.member/${encodeURIComponent(ALICE)}`, ALICE, { membership: 'owner' })).body.errcode, 'M_BAD_JSON');
  t.is((await call(s, 'PUT', `${room(roomId)}/state/m.room.power_levels`, ALICE, { users: { [ALICE]: '100' } })).body.errcode, 'M_BAD_JSON');
  const rule = await call(s, 'GET', `${room(roomId)}/state/m.room.join_rules`, ALICE);
  t.is(typeof rule.body.join_rule, 'string');
  t.is((await call(s, 'PUT', `${room(roomId)}/state/m.room.join_rules`, ALICE, { join_rule: 'public' })).status, 200);
});

test('the bridge and other in-process senders get 400 M_BAD_JSON for a float, not a 500', async (t) => {
  const { s, roomId } = await setup(t);
  const err = await t.throwsAsync(s.engine.sendEvent(roomId, { type: 'org.hearth.sensor', state_key: 'temp', sender: ALICE, content: { value: 21.3 } }));
  t.is((err as unknown as { errcode: string }).errcode, 'M_BAD_JSON');
});

test('an inline filter in a query string has the same limits: deep nesting 400 M_BAD_JSON, a lone surrogate 400 M_NOT_JSON', async (t) => {
  const { s, roomId } = await setup(t);
  const deep = `{"types":${'['.repeat(3000)}${']'.repeat(3000)}}`;
  const r = await call(s, 'GET', `${room(roomId)}/messages?dir=b&filter=${encodeURIComponent(deep)}`, ALICE);
  t.is(r.status, 400);
  t.is(r.body.errcode, 'M_BAD_JSON');
  const lone = await call(s, 'GET', `${room(roomId)}/messages?dir=b&filter=${encodeURIComponent('{"types":["\\ud800"]}')}`, ALICE);
  t.is(lone.status, 400);
  t.is(lone.body.errcode, 'M_NOT_JSON');
  const fine = await call(s, 'GET', `${room(roomId)}/messages?dir=b&filter=${encodeURIComponent('{"types":["m.room.create"]}')}`, ALICE);
  t.is(fine.status, 200);
  t.deepEqual(fine.body.chunk.map((e: { type: string }) => e.type), ['m.room.create']);
});
