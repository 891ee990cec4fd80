/**
 * Spaces and knocking with matrix-js-sdk 37.5.0: Alice builds a "Home" space with the SDK (an
 * `m.space` room, `m.space.child` state), Bob's client walks it with the SDK's RoomHierarchy
 * (Element's space view) page by page and joins a room from it; Bob knocks on a knock-only room
 * and Alice lets him in; Alice tags rooms (favourites).
 */
import './helpers/sdk-quiet.js';
import test from 'ava';
import * as sdk from 'matrix-js-sdk';
import { RoomHierarchy } from 'matrix-js-sdk/lib/room-hierarchy.js';
import { shareHearth } from './helpers/shared-hearth.js';
import { registerUser, request } from './helpers/http.js';
import { startSdkClient, waitFor } from './helpers/sdk.js';

const shared = shareHearth(test);

/** Registers `name` and starts an SDK client for it; returns the account and the client. */
async function sdkUser(name: string) {
  const account = await registerUser(shared.server.baseUrl, name, `pw-${name}-rooms`);
  const client = await startSdkClient(shared.server.baseUrl, account);
  shared.clients.push(client);
  return { account, client };
}

test('an SDK-built space is walked by the SDK\'s RoomHierarchy, in order, over pages', async (t) => {
  const hearth = shared.server;
  const { client: alice } = await sdkUser('alice');
  const { client: bob } = await sdkUser('bob');

  const { room_id: home } = await alice.createRoom({ name: 'Home', preset: sdk.Preset.PublicChat, creation_content: { type: sdk.RoomType.Space } });
  const children: string[] = [];
  for (const [name, order] of [['Living room', 'b'], ['Kitchen', 'a'], ['Garden', undefined]] as const) {
    const { room_id: child } = await alice.createRoom({ name, preset: sdk.Preset.PublicChat });
    await alice.sendStateEvent(home, sdk.EventType.SpaceChild, { via: [hearth.serverName], ...(order ? { order } : {}) }, child);
    children.push(child);
  }
  const { room_id: secret } = await alice.createRoom({ name: 'Safe', preset: sdk.Preset.PrivateChat });
  await alice.sendStateEvent(home, sdk.EventType.SpaceChild, { via: [hearth.serverName] }, secret);

  const raw = await bob.getRoomHierarchy(home, 2);
  t.deepEqual(raw.rooms.map((r) => r.name), ['Home', 'Kitchen']);
  t.is(typeof raw.next_batch, 'string');

  await bob.joinRoom(home);
  await waitFor(() => bob.getRoom(home) !== null, 'the space in Bob\'s client');
  const hierarchy = new RoomHierarchy(bob.getRoom(home)!, 2);
  while (hierarchy.canLoadMore) await hierarchy.load();
  t.false(hierarchy.noSupport);
  t.deepEqual(hierarchy.rooms?.map((r) => r.name), ['Home', 'Kitchen', 'Living room', 'Garden'], 'the private room is not shown to Bob');
  const homeEntry = hierarchy.rooms![0]!;
  t.is(homeEntry.room_type, sdk.RoomType.Space);
  t.is(homeEntry.children_state.length, 4, 'the space lists every child, even those Bob cannot see');
  t.true(hierarchy.viaMap.get(children[1]!)?.has(hearth.serverName));

  await bob.joinRoom(children[0]!);
  t.is((await bob.getJoinedRooms()).joined_rooms.includes(children[0]!), true);
});

test('knocking through the SDK: Bob knocks, his client sees the knock, Alice invites, Bob joins', async (t) => {
  const { client: alice } = await sdkUser('alice2');
  const { account: bobAccount, client: bob } = await sdkUser('bob2');
  const { room_id: roomId } = await alice.createRoom({
    name: 'Workshop',
    room_version: '10',
    initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: sdk.JoinRule.Knock } }],
  });
  await t.throwsAsync(bob.joinRoom(roomId), { instanceOf: sdk.MatrixError }, 'a knock room cannot be joined uninvited');
  const knocked = await bob.knockRoom(roomId, { reason: 'May I borrow the drill?' });
  t.is(knocked.room_id, roomId);
  await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === sdk.KnownMembership.Knock, "the knock in Bob's client");
  await waitFor(() => alice.getRoom(roomId)?.getMember(bobAccount.userId)?.membership === sdk.KnownMembership.Knock, "the knock in Alice's client");
  t.is(alice.getRoom(roomId)?.getMember(bobAccount.userId)?.events.member?.getContent().reason, 'May I borrow the drill?');
  await alice.invite(roomId, bobAccount.userId);
  await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === sdk.KnownMembership.Invite, 'the invite');
  await bob.joinRoom(roomId);
  await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === sdk.KnownMembership.Join, 'the join');
  t.true((await alice.getJoinedRoomMembers(roomId)).joined[bobAccount.userId] !== undefined);
});

test('room tags through the SDK: favourite and user tags reach the client through /sync, and go again', async (t) => {
  const { account, client: alice } = await sdkUser('alice3');
  const { account: bobAccount } = await sdkUser('bob3');
  const { room_id: roomId } = await alice.createRoom({ name: 'Garden' });
  await alice.setRoomTag(roomId, 'm.favourite', { order: 0.25 });
  await alice.setRoomTag(roomId, 'u.Outdoors', {});
  await waitFor(() => Object.keys(alice.getRoom(roomId)?.tags ?? {}).length === 2, "the tags in Alice's client");
  t.deepEqual(alice.getRoom(roomId)!.tags, { 'm.favourite': { order: 0.25 }, 'u.Outdoors': {} });
  t.deepEqual((await alice.getRoomTags(roomId)).tags, { 'm.favourite': { order: 0.25 }, 'u.Outdoors': {} });
  await alice.deleteRoomTag(roomId, 'u.Outdoors');
  await waitFor(() => !('u.Outdoors' in (alice.getRoom(roomId)?.tags ?? {})), 'the removed tag');
  t.deepEqual((await alice.getRoomTags(roomId)).tags, { 'm.favourite': { order: 0.25 } });

  const base = `/_matrix/client/v3/user/${encodeURIComponent(account.userId)}/rooms/${encodeURIComponent(roomId)}/tags`;
  const badOrder = await request(shared.server.baseUrl, 'PUT', `${base}/m.lowpriority`, { token: account.accessToken, json: { order: 2 } });
  t.is(badOrder.status, 400);
  t.is(badOrder.body.errcode, 'M_INVALID_PARAM');
  const longTag = await request(shared.server.baseUrl, 'PUT', `${base}/${'x'.repeat(256)}`, { token: account.accessToken, json: {} });
  t.is(longTag.body.errcode, 'M_INVALID_PARAM');
  const someoneElse = await request(shared.server.baseUrl, 'GET', base, { token: bobAccount.accessToken });
  t.is(someoneElse.status, 403);
  t.is(someoneElse.body.errcode, 'M_FORBIDDEN');
});

test('peeking: a world-readable room\'s snapshot for someone who never joined; other rooms refuse', async (t) => {
  const { client: alice } = await sdkUser('alice4');
  const { client: bob } = await sdkUser('bob4');
  const { room_id: lobby } = await alice.createRoom({
    name: 'Lobby',
    preset: sdk.Preset.PublicChat,
    visibility: sdk.Visibility.Public,
    initial_state: [{ type: 'm.room.history_visibility', state_key: '', content: { history_visibility: 'world_readable' } }],
  });
  for (let i = 1; i <= 25; i++) await alice.sendTextMessage(lobby, `notice ${i}`);
  const snapshot = await bob.roomInitialSync(lobby, 20);
  t.is(snapshot.room_id, lobby);
  t.false('membership' in snapshot, 'Bob never joined');
  const bodies = snapshot.messages!.chunk.filter((e) => e.type === 'm.room.message').map((e) => e.content.body);
  t.deepEqual(bodies, Array.from({ length: 20 }, (_, i) => `notice ${i + 6}`), 'the latest 20, oldest first');
  t.true(snapshot.state!.some((e) => e.type === 'm.room.name' && e.content.name === 'Lobby'));
  t.is((snapshot as unknown as { visibility: string }).visibility, 'public');
  // The snapshot's start token pages further back through /messages.
  const older = await bob.createMessagesRequest(lobby, snapshot.messages!.start ?? null, 10, sdk.Direction.Backward);
  t.deepEqual(older.chunk.filter((e) => e.type === 'm.room.message').map((e) => e.content.body), ['notice 5', 'notice 4', 'notice 3', 'notice 2', 'notice 1']);

  const { room_id: closed } = await alice.createRoom({ name: 'Private', preset: sdk.Preset.PrivateChat });
  await t.throwsAsync(bob.roomInitialSync(closed, 20), { instanceOf: sdk.MatrixError, message: /not a member/ });
});
