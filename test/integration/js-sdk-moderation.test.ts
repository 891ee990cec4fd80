/**
 * Bans, room upgrades, aliases and the public room directory, and rooms of versions 11 and 12 with
 * matrix-js-sdk 37.5.0 clients against a running Hearth (issue 13, "What the README promises, the
 * tests prove"). Spec: client-server "Banning users in a room", "Room Upgrades", "Room aliases",
 * "Listing rooms"; rooms/v11 (no `creator`), rooms/v12 (room ids are the create event's hash).
 */
import './helpers/sdk-quiet.js'; // first: before the SDK binds its loggers
import test, { type ExecutionContext } from 'ava';
import * as sdk from 'matrix-js-sdk';
import { shareHearth } from './helpers/shared-hearth.js';
import { registerUser, request, type RegisteredUser } from './helpers/http.js';
import { liveMessages, startSdkClient, waitFor } from './helpers/sdk.js';

const shared = shareHearth(test);
/** `attempt` is refused with 403 M_FORBIDDEN (client-server "Common error codes"); returns the error's text. */
async function forbidden(t: ExecutionContext, attempt: Promise<unknown>): Promise<string> {
  const err = await t.throwsAsync(attempt, { instanceOf: sdk.MatrixError });
  t.is(err?.httpStatus, 403);
  t.is(err?.errcode, 'M_FORBIDDEN');
  return err?.data.error ?? '';
}

/** Registers `name` and starts an SDK client for it. */
async function sdkUser(name: string): Promise<{ account: RegisteredUser; client: sdk.MatrixClient }> {
  const account = await registerUser(shared.server.baseUrl, name, `pw-${name}-moderation`);
  const client = await startSdkClient(shared.server.baseUrl, account);
  shared.clients.push(client);
  return { account, client };
}

/** Bob's membership in `roomId` as `viewer`'s client holds it. */
const membershipAt = (viewer: sdk.MatrixClient, roomId: string, userId: string) => viewer.getRoom(roomId)?.getMember(userId)?.membership;

test('a banned user sees the ban, cannot rejoin or send; unbanned, he joins again', async (t) => {
  const { client: alice } = await sdkUser('alice-ban');
  const { account: bobAccount, client: bob } = await sdkUser('bob-ban');
  const bobId = bobAccount.userId;
  const { room_id: roomId } = await alice.createRoom({ name: 'Workshop', preset: sdk.Preset.PublicChat });
  await bob.joinRoom(roomId);
  await waitFor(() => membershipAt(alice, roomId, bobId) === sdk.KnownMembership.Join, "Bob's join at Alice");

  await alice.ban(roomId, bobId, 'borrowed the drill and never returned it');
  await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === sdk.KnownMembership.Ban, 'the ban in Bob\'s client');
  const banEvent = bob.getRoom(roomId)!.getMember(bobId)!.events.member!;
  t.is(banEvent.getSender(), alice.getUserId()!, 'Bob sees who banned him');
  t.is(banEvent.getContent().reason, 'borrowed the drill and never returned it');
  await waitFor(() => membershipAt(alice, roomId, bobId) === sdk.KnownMembership.Ban, 'the ban at Alice');

  const rejoin = await t.throwsAsync(bob.joinRoom(roomId), { instanceOf: sdk.MatrixError });
  t.is(rejoin?.httpStatus, 403);
  t.is(rejoin?.errcode, 'M_FORBIDDEN');
  await forbidden(t, bob.sendTextMessage(roomId, 'let me back in'));
  // The SDK keeps a refused message as "not sent" and holds later sends behind it: dropped, as a
  // user would from the failed-message bar.
  for (const pending of bob.getRoom(roomId)!.getPendingEvents()) bob.cancelPendingEvent(pending);
  t.deepEqual(Object.keys((await alice.getJoinedRoomMembers(roomId)).joined), [alice.getUserId()], 'Bob is not among the joined members');

  // Only someone with the ban level may unban: Bob cannot lift his own ban, Carol (a plain member) neither.
  const { client: carol } = await sdkUser('carol-ban');
  await carol.joinRoom(roomId);
  await forbidden(t, carol.unban(roomId, bobId));
  await waitFor(() => membershipAt(alice, roomId, carol.getUserId()!) === sdk.KnownMembership.Join, "Carol's join at Alice");
  t.is(membershipAt(alice, roomId, bobId), sdk.KnownMembership.Ban, 'still banned');

  await alice.unban(roomId, bobId);
  await waitFor(() => membershipAt(alice, roomId, bobId) === sdk.KnownMembership.Leave, 'the unban at Alice');
  await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === sdk.KnownMembership.Leave, 'the unban in Bob\'s client');
  await bob.joinRoom(roomId);
  await waitFor(() => membershipAt(alice, roomId, bobId) === sdk.KnownMembership.Join, "Bob's rejoin at Alice");
  const { event_id: backId } = await bob.sendTextMessage(roomId, 'I brought the drill back');
  await waitFor(() => alice.getRoom(roomId)?.findEventById(backId) !== undefined, "Bob's message at Alice");
  t.is(alice.getRoom(roomId)!.findEventById(backId)!.getContent().body, 'I brought the drill back');
});

test('an upgrade: the old room gets its tombstone, the new one its predecessor, and the client follows', async (t) => {
  const { client: alice } = await sdkUser('alice-upgrade');
  const { account: bobAccount, client: bob } = await sdkUser('bob-upgrade');
  const { room_id: oldRoomId } = await alice.createRoom({ name: 'Kitchen', topic: 'the fridge', room_version: '10', preset: sdk.Preset.PublicChat });
  await bob.joinRoom(oldRoomId);
  const { event_id: beforeId } = await alice.sendTextMessage(oldRoomId, 'before the upgrade');
  await waitFor(() => bob.getRoom(oldRoomId)?.findEventById(beforeId) !== undefined, 'the last message of the old room at Bob');

  // Bob may not upgrade (he cannot send the tombstone).
  await forbidden(t, bob.upgradeRoom(oldRoomId, '12'));

  const { replacement_room: newRoomId } = await alice.upgradeRoom(oldRoomId, '12');
  t.not(newRoomId, oldRoomId);
  t.regex(newRoomId, /^![A-Za-z0-9_-]{43}$/, 'a v12 room id is the create event\'s hash, with no server name');

  // Bob's client sees the tombstone in the old room, as Element shows "This room has been replaced".
  await waitFor(() => bob.getRoom(oldRoomId)?.currentState.getStateEvents(sdk.EventType.RoomTombstone, '') !== null, 'the tombstone at Bob');
  const tombstone = bob.getRoom(oldRoomId)!.currentState.getStateEvents(sdk.EventType.RoomTombstone, '')!;
  t.is(tombstone.getContent().replacement_room, newRoomId);
  t.is(tombstone.getSender(), alice.getUserId()!);
  // The old room is quietened: ordinary members may no longer talk there.
  await waitFor(() => bob.getRoom(oldRoomId)!.currentState.getStateEvents(sdk.EventType.RoomPowerLevels, '')?.getContent().events_default === 50, 'the old room quietened at Bob');
  await forbidden(t, bob.sendTextMessage(oldRoomId, 'anyone here?'));

  // Bob follows the tombstone, as Element's "see the newer version" does.
  await bob.joinRoom(newRoomId);
  await waitFor(() => bob.getRoom(newRoomId)?.getMyMembership() === sdk.KnownMembership.Join, 'the new room in Bob\'s client');
  const newRoom = bob.getRoom(newRoomId)!;
  t.is(newRoom.getVersion(), '12');
  // The predecessor names the old room and its last event before the upgrade (Bob's refused
  // attempt left nothing behind).
  t.deepEqual(newRoom.findPredecessor(), { roomId: oldRoomId, eventId: beforeId });
  t.is(newRoom.name, 'Kitchen', 'the name came along');
  t.is(newRoom.currentState.getStateEvents(sdk.EventType.RoomTopic, '')?.getContent().topic, 'the fridge', 'and the topic');
  const history = bob.getRoomUpgradeHistory(newRoomId, true);
  t.deepEqual(history.map((room) => room.roomId), [oldRoomId, newRoomId], 'the SDK links both rooms, verified both ways');
  t.deepEqual(bob.getRoomUpgradeHistory(oldRoomId, true).map((room) => room.roomId), [oldRoomId, newRoomId]);
  t.false(bob.getVisibleRooms().some((room) => room.roomId === oldRoomId), 'the replaced room is hidden from the room list');

  const { event_id: afterId } = await bob.sendTextMessage(newRoomId, 'after the upgrade');
  await waitFor(() => alice.getRoom(newRoomId)?.findEventById(afterId) !== undefined, "Bob's message in the new room at Alice");
  t.is(alice.getRoom(newRoomId)!.findEventById(afterId)!.getContent().body, 'after the upgrade');
  t.is(alice.getRoom(newRoomId)!.getMember(bobAccount.userId)?.membership, sdk.KnownMembership.Join);
});

test('aliases and the public room directory: created, resolved, joined by alias, listed, searched, paged, removed', async (t) => {
  const { client: alice } = await sdkUser('alice-alias');
  const { client: bob } = await sdkUser('bob-alias');
  const server = shared.server.serverName;
  const alias = `#greenhouse:${server}`;
  const { room_id: roomId } = await alice.createRoom({ name: 'Greenhouse', topic: 'tomatoes and basil', preset: sdk.Preset.PublicChat });
  await alice.createAlias(alias, roomId);
  t.deepEqual(await bob.getRoomIdForAlias(alias), { room_id: roomId, servers: [server] });
  t.deepEqual((await alice.getLocalAliases(roomId)).aliases, [alias]);
  // Only members name a room (Synapse: "You must be in the room to create an alias for it").
  await forbidden(t, bob.createAlias(`#bobs-greenhouse:${server}`, roomId));
  await alice.sendStateEvent(roomId, sdk.EventType.RoomCanonicalAlias, { alias });

  // Not published yet: the directory does not list it.
  t.deepEqual(await alice.getRoomDirectoryVisibility(roomId), { visibility: sdk.Visibility.Private });
  t.false((await bob.publicRooms({})).chunk.some((room) => room.room_id === roomId));
  await alice.setRoomDirectoryVisibility(roomId, sdk.Visibility.Public);
  t.deepEqual(await alice.getRoomDirectoryVisibility(roomId), { visibility: sdk.Visibility.Public });

  // Bob joins by the alias, as a client resolves a typed "#greenhouse:…".
  const joined = await bob.joinRoom(alias);
  t.is(joined.roomId, roomId);
  // A member cannot take an alias in use (409, as Synapse), nor delete someone else's without power.
  const taken = await t.throwsAsync(bob.createAlias(alias, roomId), { instanceOf: sdk.MatrixError });
  t.is(taken?.httpStatus, 409);
  t.is(taken?.errcode, 'M_UNKNOWN');
  await forbidden(t, bob.deleteAlias(alias));
  t.deepEqual(await bob.getRoomIdForAlias(alias), { room_id: roomId, servers: [server] }, 'the alias still points to the room');

  const found = await bob.publicRooms({ filter: { generic_search_term: 'basil' } });
  t.deepEqual(found.chunk.map((room) => room.room_id), [roomId], 'the topic matches the search term');
  const entry = found.chunk[0]!;
  t.is(entry.name, 'Greenhouse');
  t.is(entry.topic, 'tomatoes and basil');
  t.is(entry.canonical_alias, alias);
  t.is(entry.num_joined_members, 2);
  t.true(entry.guest_can_join === false && entry.world_readable === false);
  t.deepEqual((await bob.publicRooms({ filter: { generic_search_term: 'cucumbers' } })).chunk, []);

  // Two more published rooms, then the directory paged two at a time: every room once.
  const others: string[] = [];
  for (const name of ['Garage', 'Attic']) {
    const { room_id } = await alice.createRoom({ name, preset: sdk.Preset.PublicChat, visibility: sdk.Visibility.Public });
    others.push(room_id);
  }
  const paged: string[] = [];
  let since: string | undefined;
  for (let page = 0; page < 5; page++) {
    const res = await bob.publicRooms({ limit: 2, ...(since ? { since } : {}) });
    t.true(res.chunk.length <= 2);
    paged.push(...res.chunk.map((room) => room.room_id));
    if (!res.next_batch) break;
    since = res.next_batch;
  }
  t.deepEqual([...paged].sort(), [roomId, ...others].sort(), 'each published room once over the pages');
  t.is((await bob.publicRooms({ limit: 2 })).total_room_count_estimate, 3);

  // Unpublished, and the alias deleted: gone from the directory, and the alias resolves no more.
  await alice.setRoomDirectoryVisibility(roomId, sdk.Visibility.Private);
  t.false((await bob.publicRooms({})).chunk.some((room) => room.room_id === roomId));
  await alice.deleteAlias(alias);
  const gone = await t.throwsAsync(bob.getRoomIdForAlias(alias), { instanceOf: sdk.MatrixError });
  t.is(gone?.httpStatus, 404);
  t.is(gone?.errcode, 'M_NOT_FOUND');
  t.deepEqual((await alice.getLocalAliases(roomId)).aliases, []);
  // client-server "m.room.canonical_alias": deleting the alias takes it out of the canonical alias event.
  await waitFor(() => alice.getRoom(roomId)?.getCanonicalAlias() === null, 'the canonical alias cleared at Alice');
});

for (const version of ['11', '12'] as const) {
  test(`a room of version ${version} through the SDK: created, joined, named, synced; the create event names no creator`, async (t) => {
    const { client: alice } = await sdkUser(`alice-v${version}`);
    const { client: bob } = await sdkUser(`bob-v${version}`);
    const { room_id: roomId } = await alice.createRoom({ room_version: version, name: `Version ${version}`, preset: sdk.Preset.PublicChat });
    if (version === '12') t.regex(roomId, /^![A-Za-z0-9_-]{43}$/);
    else t.true(roomId.endsWith(`:${shared.server.serverName}`), roomId);
    await bob.joinRoom(roomId);
    const sent: string[] = [];
    for (const [client, body] of [[alice, 'one'], [bob, 'two'], [alice, 'three']] as const) sent.push((await client.sendTextMessage(roomId, body)).event_id);
    await waitFor(() => {
      const room = bob.getRoom(roomId);
      return room !== null && liveMessages(room).length === 3;
    }, `the three messages at Bob in the v${version} room`);

    const room = bob.getRoom(roomId)!;
    t.is(room.getVersion(), version);
    t.deepEqual(liveMessages(room).map((e) => [e.getId(), e.getSender(), e.getContent().body]), [
      [sent[0], alice.getUserId(), 'one'],
      [sent[1], bob.getUserId(), 'two'],
      [sent[2], alice.getUserId(), 'three'],
    ]);
    t.is(room.name, `Version ${version}`);
    const create = room.currentState.getStateEvents(sdk.EventType.RoomCreate, '')!;
    t.is(create.getSender(), alice.getUserId()!);
    t.false('creator' in create.getContent(), 'rooms/v11: the create event has no creator');
    t.is(room.getCreator(), alice.getUserId(), 'the SDK finds the creator from the sender');
    if (version === '12') {
      // rooms/v12: the room id is the create event's reference hash; creators have infinite power
      // and are not listed in the power levels.
      t.is(create.getId(), `$${roomId.slice(1)}`);
      const levels = room.currentState.getStateEvents(sdk.EventType.RoomPowerLevels, '')!.getContent();
      t.false(alice.getUserId()! in (levels.users ?? {}), 'the creator is not in power_levels.users');
    }

    // The creator renames the room; Bob (default power) may not.
    await alice.setRoomName(roomId, `Version ${version}, renamed`);
    await waitFor(() => bob.getRoom(roomId)?.name === `Version ${version}, renamed`, 'the new name at Bob');
    await forbidden(t, bob.setRoomName(roomId, 'Bob was here'));
    const state = await request(shared.server.baseUrl, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.name/`, { token: bob.getAccessToken()! });
    t.deepEqual(state.body, { name: `Version ${version}, renamed` });
  });
}
