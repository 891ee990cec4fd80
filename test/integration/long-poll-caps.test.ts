/**
 * Parked /sync long-polls are capped in total and per user (sync.max_long_polls[_per_user]); past a
 * cap a long-poll gets 429 M_LIMIT_EXCEEDED with retry_after_ms at once, and a slot is free again
 * as soon as its long-poll answers. Syncs that do not wait (no since token, timeout 0) are not capped.
 */
import test from 'ava';
import { request, registerUser, type RegisteredUser } from './helpers/http.js';
import { startMqttGateway } from './mqtt-helpers/gateway.js';

const CAPS_YAML = `sync:
  max_long_polls: 3
  max_long_polls_per_user: 2
`;

interface Poll {
  done: boolean;
  result: Promise<{ status: number; body: any }>;
  abort(): void;
}

function longPoll(base: string, user: RegisteredUser & { since: string }): Poll {
  const controller = new AbortController();
  const poll: Poll = {
    done: false,
    abort: () => controller.abort(),
    result: fetch(`${base}/_matrix/client/v3/sync?timeout=60000&since=${encodeURIComponent(user.since)}`, {
      headers: { authorization: `Bearer ${user.accessToken}` },
      signal: controller.signal,
    }).then(async (res) => {
      poll.done = true;
      return { status: res.status, body: await res.json() };
    }),
  };
  poll.result.catch(() => undefined);
  return poll;
}

/** A long-poll that must be refused at once; retried while an earlier poll may still be on its way in. */
async function refusedPoll(base: string, user: RegisteredUser & { since: string }) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const poll = longPoll(base, user);
    const settled = await Promise.race([poll.result, new Promise((r) => setTimeout(r, 1000)).then(() => undefined)]);
    if (settled) return settled;
    poll.abort(); // parked: the earlier polls had not all arrived yet
  }
  throw new Error('the long-poll was never refused');
}

test('long-polls past the per-user and total caps get 429; slots free up when polls answer', async (t) => {
  const gateway = await startMqttGateway({ t, configYaml: CAPS_YAML });
  const base = gateway.server.baseUrl;
  const users = [];
  for (const name of ['polly', 'quinn', 'rory']) {
    const user = await registerUser(base, name, `pw-${name}`);
    const initial = await request(base, 'GET', '/_matrix/client/v3/sync', { token: user.accessToken });
    t.is(initial.status, 200, 'an initial sync is not a long-poll');
    users.push({ ...user, since: initial.body.next_batch as string });
  }
  const [polly, quinn, rory] = users as [(typeof users)[0], (typeof users)[0], (typeof users)[0]];

  const parked = [longPoll(base, polly), longPoll(base, polly)];
  const overUser = (await refusedPoll(base, polly)) as { status: number; body: any };
  t.is(overUser.status, 429);
  t.is(overUser.body.errcode, 'M_LIMIT_EXCEEDED');
  t.true(overUser.body.retry_after_ms > 0);
  // A sync that does not wait is answered as usual.
  const quick = await request(base, 'GET', `/_matrix/client/v3/sync?timeout=0&since=${encodeURIComponent(polly.since)}`, { token: polly.accessToken });
  t.is(quick.status, 200);
  t.is(typeof quick.body.next_batch, 'string');

  parked.push(longPoll(base, quinn));
  const overTotal = (await refusedPoll(base, rory)) as { status: number; body: any };
  t.is(overTotal.status, 429, 'rory has no long-poll, but three are parked in total');
  t.is(overTotal.body.errcode, 'M_LIMIT_EXCEEDED');
  t.false(parked.some((p) => p.done), 'the parked long-polls are still waiting');

  // News for polly and quinn wakes their long-polls with it, which frees their slots.
  for (const user of [polly, quinn]) {
    const put = await request(base, 'PUT', `/_matrix/client/v3/user/${encodeURIComponent(user.userId)}/account_data/org.example.wake`, {
      token: user.accessToken,
      json: { n: 1 },
    });
    t.is(put.status, 200);
  }
  for (const poll of parked) {
    const res = await poll.result;
    t.is(res.status, 200);
    t.true(res.body.account_data.events.some((e: { type: string }) => e.type === 'org.example.wake'));
  }
  const after = longPoll(base, rory);
  const put = await request(base, 'PUT', `/_matrix/client/v3/user/${encodeURIComponent(rory.userId)}/account_data/org.example.wake`, {
    token: rory.accessToken,
    json: { n: 2 },
  });
  t.is(put.status, 200);
  const res = await after.result;
  t.is(res.status, 200, 'slots were released: rory parks and wakes');
});
