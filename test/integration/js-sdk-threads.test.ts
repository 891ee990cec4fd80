/**
 * Threads, edits and reactions with matrix-js-sdk 37.5.0 (`threadSupport: true`, as Element runs
 * it) against a running Hearth: the SDK sends thread replies, an edit, a reaction and a reference; a third
 * user's fresh client builds its thread list from GET /v1/rooms/{roomId}/threads and the bundled
 * m.thread aggregation, and reads children through the SDK's /relations calls.
 */
import './helpers/sdk-quiet.js'; // first: before the SDK binds its loggers
import test from 'ava';
import * as sdk from 'matrix-js-sdk';
import { shareHearth } from './helpers/shared-hearth.js';
import { registerUser } from './helpers/http.js';
import { silenceSdk, startSdkClient, unrefSdkRequestTimers, waitFor } from './helpers/sdk.js';

silenceSdk();
unrefSdkRequestTimers();

const shared = shareHearth(test);
const clients = shared.clients;

async function user(name: string): Promise<sdk.MatrixClient> {
  const hearth = shared.server;
  const account = await registerUser(hearth.baseUrl, name, `pw-${name}-threads`);
  const client = await startSdkClient(hearth.baseUrl, account, { threadSupport: true });
  clients.push(client);
  return client;
}

test.serial('thread replies, an edit, a reaction and a reference sent by the SDK come back as a thread list, aggregations and relations', async (t) => {
  const hearth = shared.server;
  const alice = await user('alice');
  const bob = await user('bob');
  const carol = await user('carol');
  t.true(alice.supportsThreads(), 'the SDK sees stable thread support (/versions)');

  const { room_id: roomId } = await alice.createRoom({ preset: sdk.Preset.PublicChat, name: 'Boiler room' });
  await bob.joinRoom(roomId);
  await carol.joinRoom(roomId);

  const { event_id: root } = await alice.sendMessage(roomId, { msgtype: sdk.MsgType.Text, body: 'Boiler pressure is low' });
  const replies: string[] = [];
  for (const body of ['How low?', '0.8 bar', 'Topping it up now']) {
    const sender = body === '0.8 bar' ? alice : bob;
    // With a thread id the SDK adds the m.thread relation and the reply fallback itself.
    replies.push((await sender.sendMessage(roomId, root, { msgtype: sdk.MsgType.Text, body })).event_id);
  }
  const { event_id: editId } = await alice.sendMessage(roomId, {
    msgtype: sdk.MsgType.Text,
    body: '* Boiler pressure is low (0.8 bar)',
    'm.new_content': { msgtype: sdk.MsgType.Text, body: 'Boiler pressure is low (0.8 bar)' },
    'm.relates_to': { rel_type: sdk.RelationType.Replace, event_id: root },
  } as never);
  await bob.sendEvent(roomId, sdk.EventType.Reaction, { 'm.relates_to': { rel_type: sdk.RelationType.Annotation, event_id: root, key: '👍' } });
  // A reference (an answer pointing at the root, outside the thread), as a poll response or a
  // device's command result is sent.
  const { event_id: referenceId } = await carol.sendMessage(roomId, {
    msgtype: sdk.MsgType.Notice,
    body: 'pressure logged',
    'm.relates_to': { rel_type: sdk.RelationType.Reference, event_id: root },
  } as never);
  await t.throwsAsync(
    bob.sendEvent(roomId, sdk.EventType.Reaction, { 'm.relates_to': { rel_type: sdk.RelationType.Annotation, event_id: root, key: '👍' } }),
    { instanceOf: sdk.MatrixError, message: /same reaction/ },
  );

  // A fresh client for Carol, who never took part: the thread list comes from the server.
  const fresh = await startSdkClient(hearth.baseUrl, { userId: carol.getUserId()!, accessToken: carol.getAccessToken()!, deviceId: carol.getDeviceId()! }, { threadSupport: true });
  clients.push(fresh);
  const room = fresh.getRoom(roomId)!;
  await room.fetchRoomThreads();
  await waitFor(() => room.getThreads().length === 1, "Carol's thread list");
  const thread = room.getThreads()[0]!;
  t.is(thread.id, root);
  t.is(thread.length, 3, 'the reply count from the bundled m.thread aggregation');
  t.is(thread.rootEvent?.getOriginalContent().body, 'Boiler pressure is low');
  t.is(thread.rootEvent?.getContent().body, 'Boiler pressure is low (0.8 bar)', 'the SDK applied the edit');
  await waitFor(() => thread.replyToEvent?.getId() === replies[2], 'the latest reply');
  t.is(thread.replyToEvent?.getContent().body, 'Topping it up now');
  // The thread panel's two lists, as the SDK requests them.
  const all = await fresh.createThreadListMessagesRequest(roomId, null, 30, sdk.Direction.Backward, sdk.ThreadFilterType.All);
  t.deepEqual(all.chunk.map((e) => e.event_id), [root]);
  const mine = await fresh.createThreadListMessagesRequest(roomId, null, 30, sdk.Direction.Backward, sdk.ThreadFilterType.My);
  t.deepEqual(mine.chunk, [], 'Carol took part in none');
  const bobs = await bob.createThreadListMessagesRequest(roomId, null, 30, sdk.Direction.Backward, sdk.ThreadFilterType.My);
  t.deepEqual(bobs.chunk.map((e) => e.event_id), [root], 'Bob replied');

  const threadReplies = await fresh.relations(roomId, root, sdk.THREAD_RELATION_TYPE.name, null, { dir: sdk.Direction.Forward, limit: 10 });
  t.deepEqual(threadReplies.events.map((e) => e.getContent().body), ['How low?', '0.8 bar', 'Topping it up now']);
  t.is(threadReplies.nextBatch, null);
  const edits = await fresh.relations(roomId, root, sdk.RelationType.Replace, null);
  t.deepEqual(edits.events.map((e) => e.getId()), [editId]);
  const bundledEdit = edits.originalEvent?.getServerAggregatedRelation<{ event_id: string; content: { 'm.new_content': { body: string } } }>(sdk.RelationType.Replace);
  t.is(bundledEdit?.event_id, editId);
  t.is(bundledEdit?.content['m.new_content'].body, 'Boiler pressure is low (0.8 bar)');
  const references = await fresh.relations(roomId, root, sdk.RelationType.Reference, null);
  t.deepEqual(references.events.map((e) => [e.getId(), e.getContent().body]), [[referenceId, 'pressure logged']]);
  t.deepEqual(references.originalEvent?.getServerAggregatedRelation(sdk.RelationType.Reference), { chunk: [{ event_id: referenceId }] }, 'the bundled m.reference aggregation');
  const reactions = await fresh.relations(roomId, root, sdk.RelationType.Annotation, sdk.EventType.Reaction);
  t.deepEqual(reactions.events.map((e) => [e.getSender(), e.getRelation()?.key]), [[bob.getUserId(), '👍']]);

  // Bob's own view: he replied, so the thread is his too.
  const bobsRoot = await bob.fetchRoomEvent(roomId, root);
  const aggregation = (bobsRoot.unsigned as { 'm.relations': Record<string, any> })['m.relations']['m.thread'];
  t.true(aggregation.current_user_participated);
  t.is(aggregation.count, 3);
  t.is(aggregation.latest_event.event_id, replies[2]);
});
