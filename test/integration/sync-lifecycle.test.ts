/**
 * Long-polling /sync against the real process: a sync with nothing new waits for its timeout (also
 * on a brand-new server, whose stream is still at position 0), and SIGTERM ends pending long-polls
 * so the server stops cleanly instead of waiting for its forced exit.
 */
import test from 'ava';
import { startHearth, type HearthServer } from './helpers/server.js';
import { registerUser, request, sendText, type RegisteredUser } from './helpers/http.js';

const LONG_POLL_MS = 1500;
/** Timers and scheduling may end a long-poll slightly early; an immediate answer is far below this. */
const LONG_POLL_FLOOR_MS = LONG_POLL_MS - 300;

let hearth: HearthServer;
let carol: RegisteredUser;

test.before(async () => {
  hearth = await startHearth();
  carol = await registerUser(hearth.baseUrl, 'carol', 'carol password');
});

test.after.always(async () => {
  await hearth?.stop();
});

async function sync(since: string | undefined, timeoutMs: number) {
  const query = new URLSearchParams({ timeout: String(timeoutMs) });
  if (since !== undefined) query.set('since', since);
  const startedAt = Date.now();
  const res = await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/sync?${query}`, { token: carol.accessToken });
  return { ...res, elapsedMs: Date.now() - startedAt };
}

test.serial('with no events on the server yet, an incremental sync waits and repeats no account data', async (t) => {
  const initial = await sync(undefined, 0);
  t.is(initial.status, 200);
  // Clients fetch the default push rules at start: the initial sync carries them as account data.
  t.true(initial.body.account_data.events.some((e: { type: string }) => e.type === 'm.push_rules'));

  const incremental = await sync(initial.body.next_batch, LONG_POLL_MS);
  t.is(incremental.status, 200);
  t.true(
    incremental.elapsedMs >= LONG_POLL_FLOOR_MS,
    `since=${initial.body.next_batch} answered after ${incremental.elapsedMs} ms, before its ${LONG_POLL_MS} ms timeout, with nothing new`,
  );
  t.deepEqual(incremental.body.account_data?.events ?? [], [], 'account data unchanged since the token is not sent again');
});

test.serial('with events on the server, an incremental sync with nothing new waits for its timeout', async (t) => {
  const created = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token: carol.accessToken, json: {} });
  t.is(created.status, 200);
  const initial = await sync(undefined, 0);
  const incremental = await sync(initial.body.next_batch, LONG_POLL_MS);
  t.is(incremental.status, 200);
  t.true(incremental.elapsedMs >= LONG_POLL_FLOOR_MS, `answered after ${incremental.elapsedMs} ms`);
  t.is(incremental.body.next_batch, initial.body.next_batch);
});

test.serial('no event is lost when sends race long-polling syncs', async (t) => {
  const dave = await registerUser(hearth.baseUrl, 'dave', 'dave password');
  const created = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/createRoom', {
    token: dave.accessToken,
    json: { invite: [carol.userId] },
  });
  const roomId: string = created.body.room_id;
  const joined = await request(hearth.baseUrl, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { token: carol.accessToken, json: {} });
  t.is(joined.status, 200);

  // Each round parks a long-poll and sends one message a few ms later, so the send lands at every
  // point of the sync's life: before it reads, while it reads, after it parks. Every event must
  // come through, once, in order: a next_batch that moves past an event not in the response loses it
  // for good.
  const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 100 } } }));
  let since: string = (await sync(undefined, 0)).body.next_batch;
  const received: string[] = [];
  const syncOnce = async (timeoutMs: number) => {
    const res = await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/sync?timeout=${timeoutMs}&since=${encodeURIComponent(since)}&filter=${filter}`, {
      token: carol.accessToken,
    });
    const timeline = res.body.rooms?.join?.[roomId]?.timeline;
    t.false(timeline?.limited ?? false);
    for (const event of timeline?.events ?? []) if (event.type === 'm.room.message') received.push(event.content.body);
    since = res.body.next_batch;
  };
  const sent: string[] = [];
  for (let round = 0; round < 100; round++) {
    const polled = syncOnce(300);
    await new Promise((done) => setTimeout(done, round % 5));
    const body = `race ${round}`;
    await sendText(hearth.baseUrl, dave.accessToken, roomId, `race-${round}`, body);
    sent.push(body);
    await polled;
  }
  await syncOnce(0);
  t.deepEqual(
    sent.filter((body) => !received.includes(body)),
    [],
    'messages never delivered by /sync',
  );
  t.deepEqual(received, sent);
});

test.serial('SIGTERM ends pending long-polls and the server exits cleanly at once', async (t) => {
  const initial = await sync(undefined, 0);
  const pending = sync(initial.body.next_batch, 30_000).catch((err: unknown) => err);
  await new Promise((done) => setTimeout(done, 300)); // the long-poll is parked on the server

  const exit = await hearth.kill('SIGTERM');
  t.is(exit.code, 0, `exit code ${exit.code} (1 is the forced exit after 10 s)`);
  t.true(exit.elapsedMs < 3000, `SIGTERM took ${exit.elapsedMs} ms with one long-poll pending`);
  await pending; // answered or cut: either way it does not outlive the server
});
