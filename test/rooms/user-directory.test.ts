/** POST /user_directory/search: users sharing a room with the searcher, and members of public rooms. */
import test from 'ava';
import { call, openRoomStack } from '../helpers/room-stack.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';
const CAROL = '@carol:test.local';
const DAVE = '@dave:test.local';
const V3 = '/_matrix/client/v3';

test('shared and public rooms only; prefix matches on user id and display name words; limit', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const room = async (creator: string, body: object, joiners: string[]) => {
    const id = (await call(s, 'POST', `${V3}/createRoom`, creator, body)).body.room_id as string;
    for (const u of joiners) await call(s, 'POST', `${V3}/rooms/${encodeURIComponent(id)}/join`, u, {});
    return id;
  };
  const shared = await room(ALICE, { preset: 'private_chat', invite: [BOB] }, [BOB]);
  await call(s, 'PUT', `${V3}/rooms/${encodeURIComponent(shared)}/state/m.room.member/${encodeURIComponent(BOB)}`, BOB, { membership: 'join', displayname: 'Bob the Builder' });
  await room(CAROL, { preset: 'public_chat', visibility: 'public' }, []);
  await room(DAVE, { preset: 'private_chat' }, []);

  const search = async (body: object) => call(s, 'POST', `${V3}/user_directory/search`, ALICE, body);
  const ids = async (term: string) => (await search({ search_term: term })).body.results.map((r: { user_id: string }) => r.user_id);

  t.deepEqual(await ids('bob'), [BOB]);
  t.deepEqual(await ids('build'), [BOB], 'display name words, by prefix');
  t.deepEqual((await search({ search_term: 'BUILDER bob' })).body.results, [{ user_id: BOB, display_name: 'Bob the Builder' }]);
  t.deepEqual(await ids('carol'), [CAROL], 'members of public rooms');
  t.deepEqual(await ids('dave'), [], 'no shared or public room: not listed');
  t.deepEqual((await ids('test')).sort(), [ALICE, BOB, CAROL].sort(), 'the server name is a word of every user id');
  const limited = await search({ search_term: 'test', limit: 1 });
  t.is(limited.body.results.length, 1);
  t.true(limited.body.limited);
  t.is((await search({})).body.errcode, 'M_MISSING_PARAM');
  t.is((await search({ search_term: 'x', limit: -1 })).status, 400);
});
