/**
 * Server-side search with matrix-js-sdk 37.5.0 (Element's search box for unencrypted rooms):
 * searchRoomEvents and backPaginateRoomEventsSearch against a running Hearth, with the context and
 * profiles the SDK asks for; and timestampToEvent (jump to date).
 */
import './helpers/sdk-quiet.js';
import test from 'ava';
import * as sdk from 'matrix-js-sdk';
import { shareHearth } from './helpers/shared-hearth.js';
import { registerUser, request, sendText } from './helpers/http.js';
import { startSdkClient } from './helpers/sdk.js';

const shared = shareHearth(test);
const clients = shared.clients;

test('searchRoomEvents finds messages newest first, with context and profiles, and pages back', async (t) => {
  const hearth = shared.server;
  const alice = await registerUser(hearth.baseUrl, 'alice', 'pw-alice-search');
  const bobAccount = await registerUser(hearth.baseUrl, 'bob', 'pw-bob-search');
  const created = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, json: { preset: 'public_chat', name: 'Hall' } });
  const roomId = created.body.room_id as string;
  await request(hearth.baseUrl, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { token: bobAccount.accessToken, json: {} });
  const sent: string[] = [];
  for (let i = 1; i <= 12; i++) {
    await sendText(hearth.baseUrl, alice.accessToken, roomId, `m${i}`, i % 2 ? `door event ${i}` : `light event ${i}`);
    if (i % 2) sent.push(`door event ${i}`);
  }
  const bob = await startSdkClient(hearth.baseUrl, bobAccount);
  clients.push(bob);

  const results = await bob.searchRoomEvents({ term: 'door', filter: { limit: 4 } as never });
  t.deepEqual(results.results.map((r) => r.context.getEvent().getContent().body), ['door event 11', 'door event 9', 'door event 7', 'door event 5']);
  t.deepEqual(results.highlights, ['door']);
  const first = results.results[0]!.context;
  t.deepEqual(first.getTimeline().map((e) => e.getContent().body), ['light event 10', 'door event 11', 'light event 12'], 'one event of context each side');
  t.is(first.getEvent().sender?.name, 'alice', 'the profile the SDK asked for');
  t.is(typeof results.next_batch, 'string');

  const more = await bob.backPaginateRoomEventsSearch(results);
  t.deepEqual(more.results.map((r) => r.context.getEvent().getContent().body), [...sent].reverse());
  t.falsy(more.next_batch, 'no more pages');

  // Jump to date (Element's /jumptodate): the newest event at or before now, and none after it.
  const now = await bob.timestampToEvent(roomId, Date.now(), sdk.Direction.Backward);
  t.is((await bob.fetchRoomEvent(roomId, now.event_id)).content?.body, 'light event 12');
  await t.throwsAsync(bob.timestampToEvent(roomId, Date.now() + 60_000, sdk.Direction.Forward), { instanceOf: sdk.MatrixError });
});
