/**
 * Push notifications end to end: matrix-js-sdk registers a pusher the way a phone app does, a
 * running Hearth POSTs to a push gateway on loopback (a node:http listener standing in for Sygnal,
 * recording what arrives and failing on demand): the notify body, an outage across a restart with
 * nothing lost or reordered, event_id_only, a rejected pushkey, a logout, bad pusher input; and
 * GET /notifications.
 */
import './helpers/sdk-quiet.js';
import test from 'ava';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as sdk from 'matrix-js-sdk';
import { startHearth, type HearthServer } from './helpers/server.js';
import { registerUser, request, sendText, type RegisteredUser } from './helpers/http.js';
import { waitFor } from './helpers/sdk.js';

/** A push gateway: records every POST; answers per `mode`. */
class FakePushGateway {
  readonly received: { ok: boolean; body: any }[] = [];
  mode: 'ok' | 'fail' | 'reject' = 'ok';
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        const body = JSON.parse(raw);
        const ok = this.mode !== 'fail' && req.url === '/_matrix/push/v1/notify';
        this.received.push({ ok, body });
        if (!ok) {
          res.writeHead(503).end('{}');
          return;
        }
        const rejected = this.mode === 'reject' ? body.notification.devices.map((d: any) => d.pushkey) : [];
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ rejected }));
      });
    });
    await new Promise<void>((done) => this.server.listen(0, '127.0.0.1', done));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/_matrix/push/v1/notify`;
  }

  /** Successful deliveries' notifications, in arrival order. */
  delivered(): any[] {
    return this.received.filter((r) => r.ok).map((r) => r.body.notification);
  }

  stop(): Promise<void> {
    return new Promise((done) => this.server.close(() => done()));
  }
}

let hearth: HearthServer;
let gateway: FakePushGateway;
let alice: RegisteredUser;
let bob: RegisteredUser;
let bobClient: sdk.MatrixClient;
let roomId: string;
let txn = 0;

const PUSHKEY = 'bob-phone-fcm-token';
const APP_ID = 'org.hearth.test.android';

test.before(async () => {
  hearth = await startHearth();
  gateway = new FakePushGateway();
  await gateway.start();
  alice = await registerUser(hearth.baseUrl, 'alice', 'pw-alice-push');
  bob = await registerUser(hearth.baseUrl, 'bob', 'pw-bob-push');
  bobClient = sdk.createClient({ baseUrl: hearth.baseUrl, accessToken: bob.accessToken, userId: bob.userId, deviceId: bob.deviceId });
  const created = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/createRoom', {
    token: alice.accessToken,
    json: { preset: 'private_chat', name: 'Front door', invite: [bob.userId] },
  });
  roomId = created.body.room_id;
  await bobClient.joinRoom(roomId);
});
test.after.always(async () => {
  await hearth?.stop();
  await gateway?.stop();
});

function pusher(data: Record<string, unknown> = {}) {
  return {
    kind: 'http' as const,
    app_id: APP_ID,
    pushkey: PUSHKEY,
    app_display_name: 'Hearth test app',
    device_display_name: "Bob's phone",
    lang: 'en',
    data: { url: gateway.url, 'org.example.channel': 'doorbell', ...data },
  };
}

const say = (text: string) => sendText(hearth.baseUrl, alice.accessToken, roomId, `push-${++txn}`, text);

test.serial('a pusher set through matrix-js-sdk is listed, and a message to Bob reaches the gateway with the notify body', async (t) => {
  await bobClient.setPusher(pusher());
  // The SDK marks listed pushers enabled itself (MSC3881); the rest is what the server stored.
  const { pushers } = await bobClient.getPushers();
  t.deepEqual(pushers.map(({ 'org.matrix.msc3881.enabled': _enabled, ...p }) => p), [pusher()] as never);

  const eventId = await say('Someone is at the door');
  await waitFor(() => gateway.delivered().length === 1, 'the first push');
  const n = gateway.delivered()[0];
  t.is(n.event_id, eventId);
  t.is(n.room_id, roomId);
  t.is(n.type, 'm.room.message');
  t.is(n.sender, alice.userId);
  t.is(n.sender_display_name, 'alice');
  t.is(n.room_name, 'Front door');
  t.deepEqual(n.content, { msgtype: 'm.text', body: 'Someone is at the door' });
  t.deepEqual(n.counts, { unread: 1 });
  t.is(n.prio, 'high', 'a one-to-one message rings (sound tweak)');
  t.is(n.devices.length, 1);
  const [device] = n.devices;
  t.is(device.app_id, APP_ID);
  t.is(device.pushkey, PUSHKEY);
  t.true(Number.isInteger(device.pushkey_ts) && Math.abs(device.pushkey_ts - Date.now() / 1000) < 600);
  t.deepEqual(device.data, { 'org.example.channel': 'doorbell' }, 'data goes to the gateway without url');
  t.deepEqual(device.tweaks, { sound: 'default' });

  // Bob's own messages never push to Bob.
  await sendText(hearth.baseUrl, bob.accessToken, roomId, `bob-${++txn}`, 'coming');
  const marker = await say('thanks');
  await waitFor(() => gateway.delivered().some((d) => d.event_id === marker), 'the marker push');
  t.deepEqual(gateway.delivered().map((d) => d.content.body), ['Someone is at the door', 'thanks']);
});

test.serial('reading the room sends a badge update: counts only, no event', async (t) => {
  const last = gateway.delivered().at(-1);
  const before = gateway.received.length;
  const receipt = await request(hearth.baseUrl, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(last.event_id)}`, {
    token: bob.accessToken,
    json: {},
  });
  t.is(receipt.status, 200);
  await waitFor(() => gateway.received.length > before, 'the badge update');
  const badge = gateway.received[before]!.body.notification;
  t.is(badge.event_id, undefined);
  t.deepEqual(badge.counts, {}, 'nothing unread: the count is omitted');
  t.is(badge.devices[0].pushkey, PUSHKEY);
  t.is(badge.devices[0].tweaks, undefined);
});

/**
 * The `retryInMs` of the server's "push failed; will retry" log lines (pino JSON) for this test's
 * pusher, logged at or after `since` (ms since the epoch), in order.
 */
function retryDelaysLoggedSince(since: number): number[] {
  const delays: number[] = [];
  for (const line of hearth.output().split('\n')) {
    if (!line.includes('push failed; will retry')) continue;
    let entry: { time?: number; appId?: string; retryInMs?: number };
    try {
      entry = JSON.parse(line);
    } catch {
      continue; // the tail's first line may be cut
    }
    if (entry.appId === APP_ID && typeof entry.retryInMs === 'number' && (entry.time ?? 0) >= since) delays.push(entry.retryInMs);
  }
  return delays;
}

test.serial('a gateway outage across a restart: retried with backoff, then delivered once each, in order', async (t) => {
  const before = gateway.delivered().length;
  const failedBefore = gateway.received.filter((r) => !r.ok).length;
  const startedAt = Date.now();
  gateway.mode = 'fail';
  const ids = [await say('motion in the garden'), await say('motion stopped')];
  // The first try and three retries: enough delays to see them grow (about 1 + 2 + 4 s at most).
  await waitFor(() => gateway.received.filter((r) => !r.ok).length >= failedBefore + 4, 'failed attempts (first try and three retries)', 30_000);
  // The delay the pusher's retry timer was set to after each failure, as it logs it: what the
  // scheduler chose, not how long the machine took, so the check does not depend on timing.
  const delays = retryDelaysLoggedSince(startedAt);
  t.log(`retry delays chosen: ${delays.join(', ')} ms`);
  t.true(delays.length >= 3, `retry delays logged: ${JSON.stringify(delays)}`);
  for (let k = 1; k < delays.length; k++) {
    // Doubling with "equal jitter" (half to all of the doubled delay): never shorter than the last.
    t.true(delays[k]! >= delays[k - 1]!, `retry ${k + 1} waits at least as long as retry ${k}: ${JSON.stringify(delays)}`);
  }
  for (let k = 2; k < delays.length; k++) {
    // Two doublings later even the shortest jittered delay exceeds the longest possible earlier one.
    t.true(delays[k]! > delays[k - 2]!, `retry ${k + 1} waits longer than retry ${k - 1}: ${JSON.stringify(delays)}`);
  }
  t.is(gateway.delivered().length, before, 'nothing delivered during the outage');
  await hearth.restart();
  gateway.mode = 'ok';
  await waitFor(() => gateway.delivered().length >= before + 2, 'the queued pushes after the outage', 30_000);
  const after = gateway.delivered().slice(before);
  t.deepEqual(after.map((d) => d.event_id), ids, 'both, in order, once each');
  t.deepEqual(after.map((d) => d.content.body), ['motion in the garden', 'motion stopped']);
});

test.serial('event_id_only pushers get ids and counts, not content; updating keeps one pusher', async (t) => {
  await bobClient.setPusher(pusher({ format: 'event_id_only' }));
  t.is((await bobClient.getPushers()).pushers.length, 1);
  const id = await say('private content');
  await waitFor(() => gateway.delivered().some((d) => d.event_id === id), 'the event_id_only push');
  const n = gateway.delivered().find((d) => d.event_id === id);
  t.is(n.room_id, roomId);
  t.is(n.content, undefined);
  t.is(n.sender, undefined);
  t.true(n.counts.unread >= 1);
  t.deepEqual(n.devices[0].data, { 'org.example.channel': 'doorbell', format: 'event_id_only' });
});

test.serial('a pushkey the gateway rejects is removed', async (t) => {
  gateway.mode = 'reject';
  const id = await say('are you there?');
  await waitFor(() => gateway.received.some((r) => r.body.notification.event_id === id), 'the rejected push');
  const deadline = Date.now() + 10_000;
  let pushers = (await bobClient.getPushers()).pushers;
  while (pushers.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    pushers = (await bobClient.getPushers()).pushers;
  }
  t.deepEqual(pushers, []);
  gateway.mode = 'ok';
  const count = gateway.received.length;
  await say('nobody listens');
  await new Promise((r) => setTimeout(r, 500));
  t.is(gateway.received.length, count, 'no pusher, no push');
});

test.serial('logging out a device removes its pushers', async (t) => {
  const login = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/login', {
    json: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'bob' }, password: 'pw-bob-push' },
  });
  const phone = sdk.createClient({ baseUrl: hearth.baseUrl, accessToken: login.body.access_token, userId: bob.userId, deviceId: login.body.device_id });
  await phone.setPusher({ ...pusher(), pushkey: 'second-phone' });
  t.deepEqual((await bobClient.getPushers()).pushers.map((p) => p.pushkey), ['second-phone']);
  await phone.logout(true);
  t.deepEqual((await bobClient.getPushers()).pushers, []);
});

test.serial('bad pusher input is 400 with the spec\'s error codes, and the server keeps serving', async (t) => {
  const set = (body: unknown) => request(hearth.baseUrl, 'POST', '/_matrix/client/v3/pushers/set', { token: bob.accessToken, json: body });
  const cases: [unknown, string, RegExp][] = [
    [{ app_id: APP_ID, pushkey: 'k' }, 'M_MISSING_PARAM', /kind/],
    [{ ...pusher(), lang: undefined }, 'M_MISSING_PARAM', /lang/],
    [{ ...pusher(), data: { url: 'http://127.0.0.1:1/somewhere' } }, 'M_INVALID_PARAM', /push\/v1\/notify/],
    [{ ...pusher(), data: { url: 'not a url' } }, 'M_INVALID_PARAM', /URL/],
    [{ ...pusher(), data: {} }, 'M_MISSING_PARAM', /url/],
    [{ ...pusher(), kind: 'email', app_id: 'm.email' }, 'M_INVALID_PARAM', /http/],
    [{ ...pusher(), pushkey: 'x'.repeat(513) }, 'M_INVALID_PARAM', /512/],
    [{ ...pusher(), app_id: 'a'.repeat(65) }, 'M_INVALID_PARAM', /64/],
    [{ ...pusher(), append: 'yes' }, 'M_BAD_JSON', /append/],
  ];
  for (const [body, errcode, message] of cases) {
    const res = await set(body);
    t.is(res.status, 400, JSON.stringify(body).slice(0, 80));
    t.is(res.body.errcode, errcode);
    t.regex(res.body.error, message);
  }
  const unauthenticated = await request(hearth.baseUrl, 'GET', '/_matrix/client/v3/pushers');
  t.is(unauthenticated.status, 401);
  t.deepEqual((await bobClient.getPushers()).pushers, [], 'nothing was stored');
  // Deleting an unknown pusher is not an error.
  t.is((await set({ kind: null, app_id: APP_ID, pushkey: 'never-set' })).status, 200);
});

test.serial('GET /notifications lists what notified Bob, newest first, read or not, with highlights and pages', async (t) => {
  const get = (query = '') => request(hearth.baseUrl, 'GET', `/_matrix/client/v3/notifications${query}`, { token: bob.accessToken });
  const mention = await say(`bob: the parcel is here`);
  const all = await get('?limit=100');
  t.is(all.status, 200);
  const bodies = all.body.notifications.map((n: any) => n.event.content.body);
  t.deepEqual(bodies.slice(0, 2), ['bob: the parcel is here', 'nobody listens']);
  t.true(bodies.includes('Someone is at the door'));
  t.false(bodies.includes('coming'), "Bob's own message did not notify him");
  const first = all.body.notifications[0];
  t.is(first.event.event_id, mention);
  t.is(first.room_id, roomId);
  t.false(first.read);
  t.true(Number.isInteger(first.ts));
  t.deepEqual(first.actions[0], 'notify');
  const door = all.body.notifications.find((n: any) => n.event.content.body === 'Someone is at the door');
  t.true(door.read, 'Bob read up to the marker earlier');

  const highlights = await get('?only=highlight');
  t.deepEqual(highlights.body.notifications.map((n: any) => n.event.event_id), [mention], 'only the mention of his name highlights');
  t.true(highlights.body.notifications[0].actions.some((a: any) => a.set_tweak === 'highlight'));

  const page1 = await get('?limit=2');
  t.is(page1.body.notifications.length, 2);
  const page2 = await get(`?limit=2&from=${page1.body.next_token}`);
  t.deepEqual(page2.body.notifications.map((n: any) => n.event.content.body), bodies.slice(2, 4));

  for (const query of ['?from=abc', '?limit=0', '?only=everything']) {
    const res = await get(query);
    t.is(res.status, 400, query);
    t.is(res.body.errcode, 'M_INVALID_PARAM', query);
  }
});
