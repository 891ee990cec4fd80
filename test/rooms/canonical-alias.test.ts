/**
 * m.room.canonical_alias against the room directory (issue 13): new aliases must point to the room
 * (400 M_BAD_ALIAS, bad syntax 400 M_INVALID_PARAM), and deleting an alias takes it out of the
 * event, sent by the deleting user when the auth rules let them (Synapse's `_update_canonical_alias`).
 */
import test from 'ava';
import { call, openRoomStack, type RoomStack } from '../helpers/room-stack.js';
import { addedAliases, checkCanonicalAliases, contentWithoutAlias } from '../../src/rooms/canonical-alias.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';
const V3 = '/_matrix/client/v3';
const HALL = '#hall:test.local';

const enc = encodeURIComponent;

async function setup(t: import('ava').ExecutionContext): Promise<{ s: RoomStack; hall: string; shed: string }> {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const hall = (await call(s, 'POST', `${V3}/createRoom`, ALICE, { preset: 'public_chat', room_alias_name: 'hall' })).body.room_id as string;
  const shed = (await call(s, 'POST', `${V3}/createRoom`, ALICE, { room_alias_name: 'shed' })).body.room_id as string;
  t.is((await call(s, 'POST', `${V3}/rooms/${enc(hall)}/join`, BOB, {})).status, 200);
  return { s, hall, shed };
}

const putCanonical = (s: RoomStack, roomId: string, user: string, content: unknown) => call(s, 'PUT', `${V3}/rooms/${enc(roomId)}/state/m.room.canonical_alias`, user, content);
const canonicalEvent = async (s: RoomStack, roomId: string) => (await call(s, 'GET', `${V3}/rooms/${enc(roomId)}/state/m.room.canonical_alias?format=event`, ALICE)).body;
const addAlias = (s: RoomStack, alias: string, roomId: string, user = ALICE) => call(s, 'PUT', `${V3}/directory/room/${enc(alias)}`, user, { room_id: roomId });

test('a canonical alias or alt alias that is unknown, of another room or of a server we cannot ask is 400 M_BAD_ALIAS; bad syntax is M_INVALID_PARAM', async (t) => {
  const { s, hall } = await setup(t);
  const refusals: [unknown, string][] = [
    [{ alias: '#shed:test.local' }, 'M_BAD_ALIAS'],
    [{ alias: '#nowhere:test.local' }, 'M_BAD_ALIAS'],
    [{ alias: HALL, alt_aliases: ['#shed:test.local'] }, 'M_BAD_ALIAS'],
    [{ alt_aliases: ['#hall:elsewhere.example'] }, 'M_BAD_ALIAS'],
    [{ alias: HALL, alt_aliases: ['hall'] }, 'M_INVALID_PARAM'],
  ];
  for (const [content, errcode] of refusals) {
    const res = await putCanonical(s, hall, ALICE, content);
    t.is(res.status, 400, JSON.stringify(content));
    t.is(res.body.errcode, errcode, JSON.stringify(content));
  }
  t.deepEqual((await canonicalEvent(s, hall)).content, { alias: HALL }, 'nothing refused reached the room');

  t.is((await addAlias(s, '#lobby:test.local', hall)).status, 200);
  const accepted = await putCanonical(s, hall, ALICE, { alias: HALL, alt_aliases: ['#lobby:test.local'] });
  t.is(accepted.status, 200);
  t.deepEqual((await canonicalEvent(s, hall)).content, { alias: HALL, alt_aliases: ['#lobby:test.local'] });
  t.is((await putCanonical(s, hall, ALICE, {})).status, 200, 'removing aliases needs no check');
});

test('the auth rules come first: a member without the power level hears 403 M_FORBIDDEN, not the alias fault', async (t) => {
  const { s, hall } = await setup(t);
  const res = await putCanonical(s, hall, BOB, { alias: '#nowhere:test.local' });
  t.is(res.status, 403);
  t.is(res.body.errcode, 'M_FORBIDDEN');
});

test('deleting an alias takes it out of m.room.canonical_alias, sent by the deleting user', async (t) => {
  const { s, hall } = await setup(t);
  await addAlias(s, '#lobby:test.local', hall);
  await addAlias(s, '#porch:test.local', hall);
  t.is((await putCanonical(s, hall, ALICE, { alias: HALL, alt_aliases: ['#lobby:test.local', '#porch:test.local'] })).status, 200);

  t.is((await call(s, 'DELETE', `${V3}/directory/room/${enc('#lobby:test.local')}`, ALICE)).status, 200);
  const afterAlt = await canonicalEvent(s, hall);
  t.deepEqual(afterAlt.content, { alias: HALL, alt_aliases: ['#porch:test.local'] });
  t.is(afterAlt.sender, ALICE);

  t.is((await call(s, 'DELETE', `${V3}/directory/room/${enc(HALL)}`, ALICE)).status, 200);
  t.deepEqual((await canonicalEvent(s, hall)).content, { alt_aliases: ['#porch:test.local'] });
  t.is((await call(s, 'DELETE', `${V3}/directory/room/${enc('#porch:test.local')}`, ALICE)).status, 200);
  t.deepEqual((await canonicalEvent(s, hall)).content, {}, 'an emptied alt_aliases is dropped');

  // An alias the event does not list changes nothing in the room.
  await addAlias(s, '#attic:test.local', hall);
  const before = (await canonicalEvent(s, hall)).event_id;
  t.is((await call(s, 'DELETE', `${V3}/directory/room/${enc('#attic:test.local')}`, ALICE)).status, 200);
  t.is((await canonicalEvent(s, hall)).event_id, before);
});

test('an alias creator without the power level still deletes their alias; the event keeps it (spec: delete even if the event cannot be updated)', async (t) => {
  const { s, hall } = await setup(t);
  t.is((await addAlias(s, '#bobs:test.local', hall, BOB)).status, 200);
  t.is((await putCanonical(s, hall, ALICE, { alias: HALL, alt_aliases: ['#bobs:test.local'] })).status, 200);
  const res = await call(s, 'DELETE', `${V3}/directory/room/${enc('#bobs:test.local')}`, BOB);
  t.is(res.status, 200);
  t.is((await call(s, 'GET', `${V3}/directory/room/${enc('#bobs:test.local')}`, BOB)).body.errcode, 'M_NOT_FOUND');
  const event = await canonicalEvent(s, hall);
  t.deepEqual(event.content, { alias: HALL, alt_aliases: ['#bobs:test.local'] });
  t.is(event.sender, ALICE);
});

test('only new aliases are checked: the ones already in the replaced event are not (spec), a malformed old alt_aliases counts as none', (t) => {
  t.deepEqual(addedAliases({ alias: '#a:x', alt_aliases: ['#b:x', '#c:x'] }, { alias: '#a:x', alt_aliases: ['#b:x'] }), ['#c:x']);
  t.deepEqual(addedAliases({ alias: '#a:x' }, undefined), ['#a:x']);
  t.deepEqual(addedAliases({ alias: '', alt_aliases: [] }, undefined), []);
  t.deepEqual(addedAliases({ alt_aliases: ['#b:x'] }, { alt_aliases: '#b:x' }), ['#b:x']);
});

test('a remote alias is asked of its server: accepted when it names the room, M_BAD_ALIAS when it names another or none', async (t) => {
  const remote = async (alias: string) => (alias === '#hall:other.example' ? '!room:test.local' : alias === '#elsewhere:other.example' ? '!other:test.local' : undefined);
  await t.notThrowsAsync(checkCanonicalAliases({ alt_aliases: ['#hall:other.example'] }, undefined, '!room:test.local', remote));
  for (const alias of ['#elsewhere:other.example', '#unknown:other.example']) {
    const err = await t.throwsAsync(checkCanonicalAliases({ alias }, undefined, '!room:test.local', remote));
    t.is((err as unknown as { errcode: string }).errcode, 'M_BAD_ALIAS');
  }
});

test('contentWithoutAlias leaves other fields and an alt_aliases of an unexpected form alone', (t) => {
  t.deepEqual(contentWithoutAlias({ alias: '#a:x', alt_aliases: '#a:x', extra: 1 }, '#a:x'), { alt_aliases: '#a:x', extra: 1 });
  t.is(contentWithoutAlias({ alias: '#a:x' }, '#b:x'), undefined);
});
