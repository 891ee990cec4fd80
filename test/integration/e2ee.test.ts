/**
 * End-to-end encryption through a real Hearth process with matrix-js-sdk 37.5.0 clients running its
 * Rust crypto: the SDK uploads keys, queries and claims them, shares Megolm room keys over Olm
 * to-device messages and encrypts; the server only stores and relays. Spec: client-server-api
 * "End-to-End Encryption" (Key management API, "Extensions to /sync", "Tracking the device list for
 * a user") and "Send-to-Device messaging".
 *
 * The tests run in order and share one server and one room: each builds on the previous one.
 */
import test, { type ExecutionContext } from 'ava';
import * as sdk from 'matrix-js-sdk';
import { startHearth, type HearthServer } from './helpers/server.js';
import { request } from './helpers/http.js';
import { loginWithSdk, registerWithSdk, silenceSdk, unrefSdkRequestTimers, waitFor, type SdkCredentials } from './helpers/sdk.js';
import { rawRoomEvents, startCryptoClient, waitForAsync, waitForDecryptedEvent, type CryptoClient } from './e2ee-helpers/crypto-client.js';

const PASSWORD = 'correct horse battery staple';
const MEGOLM = 'm.megolm.v1.aes-sha2';

silenceSdk();
unrefSdkRequestTimers();

let hearth: HearthServer;
const started: CryptoClient[] = [];
let alice: CryptoClient;
let bob: CryptoClient;
/** Bob's second device, logged in after the room exists. */
let bobLaptop: CryptoClient;
let aliceId: string;
let bobId: string;
let roomId: string;

test.before(async () => {
  hearth = await startHearth();
});

test.after.always(async () => {
  for (const { client } of started) client.stopClient();
  await hearth?.stop();
});

async function start(creds: SdkCredentials): Promise<CryptoClient> {
  const crypto = await startCryptoClient(hearth.baseUrl, creds);
  started.push(crypto);
  return crypto;
}

/** Sends `body` as an m.text message through the SDK, which encrypts it in an encrypted room. */
async function send(from: CryptoClient, body: string): Promise<string> {
  const { event_id } = await from.client.sendMessage(roomId, { msgtype: sdk.MsgType.Text, body });
  return event_id;
}

/** What the server stores and hands out for `eventId`: an m.room.encrypted event without the plaintext. */
async function assertStoredEncrypted(t: ExecutionContext, eventId: string, plaintext: string): Promise<void> {
  const raw = (await rawRoomEvents(hearth.baseUrl, alice.client.getAccessToken()!, roomId)).find((e) => e.event_id === eventId);
  t.truthy(raw, `${eventId} is in /messages`);
  t.is(raw!.type, 'm.room.encrypted');
  t.is(raw!.content.algorithm, MEGOLM);
  t.is(typeof raw!.content.ciphertext, 'string');
  t.false(JSON.stringify(raw).includes(plaintext), 'the plaintext is nowhere in the stored event');
}

/** `receiver` decrypts `eventId` to an m.room.message with `body` from `sender`. */
async function assertDecrypts(t: ExecutionContext, receiver: CryptoClient, eventId: string, sender: CryptoClient, body: string): Promise<void> {
  const event = await waitForDecryptedEvent(receiver, roomId, eventId);
  const who = `${receiver.client.getUserId()}/${receiver.client.getDeviceId()}`;
  t.true(event.isEncrypted(), `${who}: arrived encrypted`);
  t.is(event.getWireType(), 'm.room.encrypted');
  t.is(event.getType(), 'm.room.message');
  t.is(event.getContent().body, body, `${who}: decrypted body`);
  t.is(event.getSender(), sender.client.getUserId()!);
}

/** Requests of `client` matching `method` and a path prefix, sent at or after `since` (ms). */
function requestsTo(client: CryptoClient, method: string, pathPrefix: string, since = 0) {
  return client.requests.filter((r) => r.method === method && r.path.startsWith(pathPrefix) && r.sentAt >= since);
}

/** The device ids `viewer`'s crypto knows for `userId` (from its /keys/query results). */
async function knownDevices(viewer: CryptoClient, userId: string): Promise<string[]> {
  const devices = await viewer.client.getCrypto()!.getUserDeviceInfo([userId]);
  return [...(devices.get(userId)?.keys() ?? [])].sort();
}

test.serial('Alice encrypts in a new encrypted room and Bob decrypts; Bob replies and Alice decrypts', async (t) => {
  aliceId = await registerWithSdk(hearth.baseUrl, 'alice', PASSWORD);
  bobId = await registerWithSdk(hearth.baseUrl, 'bob', PASSWORD);
  alice = await start(await loginWithSdk(hearth.baseUrl, 'alice', PASSWORD));
  bob = await start(await loginWithSdk(hearth.baseUrl, 'bob', PASSWORD));

  const created = await alice.client.createRoom({
    name: 'Encrypted',
    preset: sdk.Preset.PrivateChat,
    initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: MEGOLM } }],
  });
  roomId = created.room_id;
  await alice.client.invite(roomId, bobId);
  await waitFor(() => bob.client.getRoom(roomId)?.getMyMembership() === 'invite', "Bob's invite through /sync");
  await bob.client.joinRoom(roomId);
  await waitFor(() => alice.client.getRoom(roomId)?.getMember(bobId)?.membership === 'join', "Bob's join seen by Alice");
  await waitFor(() => bob.client.getRoom(roomId)?.getMyMembership() === 'join', "Bob's own join through /sync");
  // Each crypto learns of the room's m.room.encryption from the synced state.
  for (const { client } of [alice, bob]) {
    await waitForAsync(() => client.getCrypto()!.isEncryptionEnabledInRoom(roomId), `encryption enabled at ${client.getUserId()}`);
  }

  const hello = 'the boiler code is 4711';
  const helloId = await send(alice, hello);
  await assertStoredEncrypted(t, helloId, hello);
  await assertDecrypts(t, bob, helloId, alice, hello);
  // The Megolm key went the way the spec lays out: Bob's one-time key claimed, then an Olm-encrypted
  // to-device message (module "Send-to-Device messaging").
  t.true(requestsTo(alice, 'POST', '/_matrix/client/v3/keys/claim').some((r) => r.status === 200));
  t.true(requestsTo(alice, 'PUT', '/_matrix/client/v3/sendToDevice/m.room.encrypted/').some((r) => r.status === 200));

  const reply = 'noted, the heating stays at 19';
  const replyId = await send(bob, reply);
  await assertStoredEncrypted(t, replyId, reply);
  await assertDecrypts(t, alice, replyId, bob, reply);
});

test.serial("Bob's second device: Alice learns of it through /sync device_lists and it decrypts what comes next", async (t) => {
  const before = Date.now();
  const aliceTokenBefore = alice.client.store.getSyncToken()!;
  bobLaptop = await start(await loginWithSdk(hearth.baseUrl, 'bob', PASSWORD));
  const laptopId = bobLaptop.client.getDeviceId()!;
  // Its keys go up once its first sync has reported the one-time key counts.
  await waitFor(() => requestsTo(bobLaptop, 'POST', '/_matrix/client/v3/keys/upload').some((r) => r.status === 200), "the laptop's key upload");

  // Bob's device list changed: Alice's sync says so, her crypto queries Bob's keys again and finds
  // the new device (Bob's first device learns of it the same way).
  await waitForAsync(async () => (await knownDevices(alice, bobId)).includes(laptopId), "Bob's new device at Alice");
  t.deepEqual(await knownDevices(alice, bobId), [bob.client.getDeviceId()!, laptopId].sort());
  t.true(requestsTo(alice, 'POST', '/_matrix/client/v3/keys/query', before).length > 0, 'Alice queried keys again after the new login');
  await waitForAsync(async () => (await knownDevices(bob, bobId)).includes(laptopId), "Bob's new device at his first device");
  // The same through plain HTTP: an incremental /sync of Alice's from before the login lists Bob in
  // `device_lists.changed` ("Extensions to /sync"). Her SDK is past that token, so this acknowledges
  // no to-device message it has not already received.
  const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 1 } } }));
  const sync = await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/sync?since=${encodeURIComponent(aliceTokenBefore)}&timeout=0&filter=${filter}`, {
    token: alice.client.getAccessToken()!,
  });
  t.is(sync.status, 200, sync.text);
  t.true((sync.body.device_lists?.changed ?? []).includes(bobId), JSON.stringify(sync.body.device_lists));

  const news = 'the laptop can read this';
  const newsId = await send(alice, news);
  await assertStoredEncrypted(t, newsId, news);
  await assertDecrypts(t, bobLaptop, newsId, alice, news);
  await assertDecrypts(t, bob, newsId, alice, news);
});

test.serial('the gateway restarts between messages: the keys it stores survive, and encryption carries on', async (t) => {
  const queryKeys = async () => {
    const res = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/keys/query', {
      token: alice.client.getAccessToken()!,
      json: { device_keys: { [aliceId]: [], [bobId]: [] } },
    });
    t.is(res.status, 200, res.text);
    return res.body.device_keys;
  };
  // One-time key counts and fallback key types as /sync reports them to Alice's device (an initial
  // sync: it acknowledges no to-device message). Nobody claims her keys across the restart.
  const keyCounts = async () => {
    const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 1 } } }));
    const res = await request(hearth.baseUrl, 'GET', `/_matrix/client/v3/sync?timeout=0&filter=${filter}`, { token: alice.client.getAccessToken()! });
    t.is(res.status, 200, res.text);
    return { otks: res.body.device_one_time_keys_count, fallback: res.body.device_unused_fallback_key_types };
  };
  const keysBefore = await queryKeys();
  const countsBefore = await keyCounts();
  t.true(countsBefore.otks.signed_curve25519 > 0);
  t.deepEqual(countsBefore.fallback, ['signed_curve25519']);
  t.deepEqual(Object.keys(keysBefore[bobId]).sort(), [bob.client.getDeviceId()!, bobLaptop.client.getDeviceId()!].sort());

  await hearth.restart();
  // What an app does when the network returns: retry now instead of after the SDK's back-off.
  for (const { client } of started) client.retryImmediately();

  t.deepEqual(await queryKeys(), keysBefore, 'device keys after the restart are those before it');
  t.deepEqual(await keyCounts(), countsBefore, 'one-time and fallback keys after the restart are those before it');

  // The laptop has not talked to Alice yet: it claims one of her one-time keys, uploaded before the
  // restart, to open an Olm session and share its own Megolm session with her and Bob's phone.
  const fromLaptop = 'sent from the laptop after the restart';
  const fromLaptopId = await send(bobLaptop, fromLaptop);
  await assertStoredEncrypted(t, fromLaptopId, fromLaptop);
  await assertDecrypts(t, alice, fromLaptopId, bobLaptop, fromLaptop);
  await assertDecrypts(t, bob, fromLaptopId, bobLaptop, fromLaptop);

  const fromAlice = 'and Alice after the restart';
  const fromAliceId = await send(alice, fromAlice);
  await assertStoredEncrypted(t, fromAliceId, fromAlice);
  await assertDecrypts(t, bob, fromAliceId, alice, fromAlice);
  await assertDecrypts(t, bobLaptop, fromAliceId, alice, fromAlice);
});
