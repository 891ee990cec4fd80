/**
 * End-to-end encryption through a real Hearth process with two matrix-js-sdk 37.5.0 clients running
 * its Rust crypto: the SDK uploads keys, queries and claims them, shares Megolm room keys over Olm
 * to-device messages and encrypts; the server only relays. Spec: client-server-api "End-to-End
 * Encryption" (Key management API, "Extensions to /sync", "Tracking the device list for a user"),
 * "Send-to-Device messaging".
 *
 * The tests run in order and share one server and one room: each builds on the previous one.
 */
import test from 'ava';
import * as sdk from 'matrix-js-sdk';
import { startHearth, type HearthServer } from './helpers/server.js';
import { request } from './helpers/http.js';
import { loginWithSdk, registerWithSdk, silenceSdk, waitFor, type SdkCredentials } from './helpers/sdk.js';
import { rawRoomEvents, startCryptoClient, waitForAsync, waitForDecryptedEvent, type CryptoClient } from './e2ee-helpers/crypto-client.js';

const PASSWORD = 'correct horse battery staple';
const MEGOLM = 'm.megolm.v1.aes-sha2';

silenceSdk();

let hearth: HearthServer;
const started: CryptoClient[] = [];
let alice: CryptoClient;
let bob: CryptoClient;
let bobCreds: SdkCredentials;
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

/** Sends `body` as an m.text message through the SDK (which encrypts it in an encrypted room). */
async function send(from: CryptoClient, body: string): Promise<string> {
  const { event_id } = await from.client.sendMessage(roomId, { msgtype: sdk.MsgType.Text, body });
  return event_id;
}

/** What the server stores and hands out for `eventId`: an m.room.encrypted event, no plaintext. */
async function assertStoredEncrypted(t: import('ava').ExecutionContext, eventId: string, plaintext: string): Promise<void> {
  const raw = (await rawRoomEvents(hearth.baseUrl, bobCreds.accessToken, roomId)).find((e) => e.event_id === eventId);
  t.truthy(raw, `${eventId} is in /messages`);
  t.is(raw!.type, 'm.room.encrypted');
  t.is(raw!.content.algorithm, MEGOLM);
  t.is(typeof raw!.content.ciphertext, 'string');
  t.false(JSON.stringify(raw).includes(plaintext), 'the plaintext is nowhere in the stored event');
}

test.serial('Alice encrypts in a new encrypted room, Bob decrypts; Bob replies, Alice decrypts', async (t) => {
  const aliceId = await registerWithSdk(hearth.baseUrl, 'alice', PASSWORD);
  const bobId = await registerWithSdk(hearth.baseUrl, 'bob', PASSWORD);
  alice = await start(await loginWithSdk(hearth.baseUrl, 'alice', PASSWORD));
  bobCreds = await loginWithSdk(hearth.baseUrl, 'bob', PASSWORD);
  bob = await start(bobCreds);

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
  try {
  await waitFor(() => bob.client.getRoom(roomId)?.getMyMembership() === 'join', "Bob's own join through /sync");
  } catch (e) { console.log(bob.requests.map(r => `${r.sentAt % 100000} +${r.durationMs} ${r.method} ${r.path} ${r.status}`).join('\n')); console.log(hearth.output().slice(-5000)); throw e; }
  // The crypto learns of the room's m.room.encryption from the synced state.
  for (const { client } of [alice, bob]) {
    await waitForAsync(() => client.getCrypto()!.isEncryptionEnabledInRoom(roomId), `encryption enabled at ${client.getUserId()}`);
  }

  const hello = 'the boiler code is 4711';
  const helloId = await send(alice, hello);
  await assertStoredEncrypted(t, helloId, hello);
  const atBob = await waitForDecryptedEvent(bob, roomId, helloId);
  t.true(atBob.isEncrypted());
  t.is(atBob.getType(), 'm.room.message');
  t.is(atBob.getContent().body, hello);
  t.is(atBob.getSender(), aliceId);

  const reply = 'noted, the heating stays at 19';
  const replyId = await send(bob, reply);
  await assertStoredEncrypted(t, replyId, reply);
  const atAlice = await waitForDecryptedEvent(alice, roomId, replyId);
  t.true(atAlice.isEncrypted());
  t.is(atAlice.getContent().body, reply);
  t.is(atAlice.getSender(), bobId);
});
