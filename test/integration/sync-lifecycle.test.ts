/**
 * Long-polling /sync against the real process: a sync with nothing new waits for its timeout (also
 * on a brand-new server, whose stream is still at position 0), and SIGTERM ends pending long-polls
 * so the server stops cleanly instead of waiting for its forced exit.
 */
import test from 'ava';
import { startHearth, type HearthServer } from './helpers/server.js';
import { registerUser, request, type RegisteredUser } from './helpers/http.js';

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

test.serial('SIGTERM ends pending long-polls and the server exits cleanly at once', async (t) => {
  const initial = await sync(undefined, 0);
  const pending = sync(initial.body.next_batch, 30_000).catch((err: unknown) => err);
  await new Promise((done) => setTimeout(done, 300)); // the long-poll is parked on the server

  const exit = await hearth.kill('SIGTERM');
  t.is(exit.code, 0, `exit code ${exit.code} (1 is the forced exit after 10 s)`);
  t.true(exit.elapsedMs < 3000, `SIGTERM took ${exit.elapsedMs} ms with one long-poll pending`);
  await pending; // answered or cut: either way it does not outlive the server
});
