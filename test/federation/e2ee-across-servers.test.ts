/**
 * Issue 11 "Proof", scenario 3: end-to-end encryption across servers with matrix-js-sdk 37.5.0 and
 * its Rust crypto on each side, Hearth <-> Synapse and Hearth <-> Hearth. Each side decrypts the
 * other; a second device logged in on the other server appears in the first side's device list
 * (through `device_lists.changed` and a federated `/keys/query`) and decrypts what comes next
 * (its Olm session set up through a federated `/keys/claim` and to-device message).
 */
import test, { type ExecutionContext } from 'ava';
import * as sdk from 'matrix-js-sdk';
import { startHearth, type HearthServer } from '../integration/helpers/server.js';
import { loginWithSdk, registerWithSdk, silenceSdk, unrefSdkRequestTimers, waitFor } from '../integration/helpers/sdk.js';
import { startCryptoClient, waitForAsync, waitForDecryptedEvent, type CryptoClient } from '../integration/e2ee-helpers/crypto-client.js';
import { startSynapse, type SynapsePeer } from '../integration/helpers/synapse.js';

silenceSdk();
unrefSdkRequestTimers();

const PASSWORD = 'correct horse battery staple';
const MEGOLM = 'm.megolm.v1.aes-sha2';
const LONG = 45_000;

let hearth: HearthServer;
let cabin: HearthServer;
let synapse: SynapsePeer;
const started: CryptoClient[] = [];

test.before(async () => {
  [hearth, cabin, synapse] = await Promise.all([startHearth({ federated: true }), startHearth({ federated: true }), startSynapse()]);
});

test.after.always(async () => {
  for (const { client } of started) client.stopClient();
  await Promise.all([hearth?.stop(), cabin?.stop(), synapse?.stop()]);
});

interface Account {
  baseUrl: string;
  name: string;
  userId: string;
}

async function startAs(account: Account): Promise<CryptoClient> {
  const crypto = await startCryptoClient(account.baseUrl, await loginWithSdk(account.baseUrl, account.name, PASSWORD));
  started.push(crypto);
  return crypto;
}

async function knownDevices(viewer: CryptoClient, userId: string): Promise<string[]> {
  const devices = await viewer.client.getCrypto()!.getUserDeviceInfo([userId], true);
  return [...(devices.get(userId)?.keys() ?? [])].sort();
}

async function assertDecrypts(t: ExecutionContext, receiver: CryptoClient, roomId: string, eventId: string, senderId: string, body: string): Promise<void> {
  const event = await waitForDecryptedEvent(receiver, roomId, eventId, LONG);
  t.true(event.isEncrypted());
  t.is(event.getType(), 'm.room.message');
  t.is(event.getContent().body, body);
  t.is(event.getSender(), senderId);
}

async function scenario(t: ExecutionContext, home: Account, away: Account): Promise<void> {
  const alice = await startAs(home);
  const bob = await startAs(away);
  const { room_id: roomId } = await alice.client.createRoom({
    name: 'Encrypted across servers',
    preset: sdk.Preset.PrivateChat,
    initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: MEGOLM } }],
  });
  await alice.client.invite(roomId, away.userId);
  await waitFor(() => bob.client.getRoom(roomId)?.getMyMembership() === 'invite', 'the invite on the other server', LONG);
  await bob.client.joinRoom(roomId);
  await waitFor(() => alice.client.getRoom(roomId)?.getMember(away.userId)?.membership === 'join', 'the join seen by the room creator', LONG);
  for (const { client } of [alice, bob]) {
    await waitForAsync(() => client.getCrypto()!.isEncryptionEnabledInRoom(roomId), `encryption enabled at ${client.getUserId()}`, LONG);
  }

  const hello = 'the boiler code is 4711';
  const { event_id: helloId } = await alice.client.sendMessage(roomId, { msgtype: sdk.MsgType.Text, body: hello });
  await assertDecrypts(t, bob, roomId, helloId, home.userId, hello);
  const reply = 'noted, the heating stays at 19';
  const { event_id: replyId } = await bob.client.sendMessage(roomId, { msgtype: sdk.MsgType.Text, body: reply });
  await assertDecrypts(t, alice, roomId, replyId, away.userId, reply);

  // A second device of the away user: the home side learns of it across servers and shares keys with it.
  const laptop = await startAs(away);
  const laptopId = laptop.client.getDeviceId()!;
  await waitForAsync(async () => (await knownDevices(alice, away.userId)).includes(laptopId), "the away user's new device at the home side", LONG);
  t.deepEqual(await knownDevices(alice, away.userId), [bob.client.getDeviceId()!, laptopId].sort());
  await waitFor(() => laptop.client.getRoom(roomId)?.getMyMembership() === 'join', 'the room at the new device', LONG);
  const later = 'the new laptop reads this';
  const { event_id: laterId } = await alice.client.sendMessage(roomId, { msgtype: sdk.MsgType.Text, body: later });
  await assertDecrypts(t, laptop, roomId, laterId, home.userId, later);
  await assertDecrypts(t, bob, roomId, laterId, home.userId, later);
}

test.serial('Hearth <-> Synapse: each side decrypts the other; a new Synapse device is learnt and decrypts', async (t) => {
  const aliceId = await registerWithSdk(hearth.baseUrl, 'alice', PASSWORD);
  const bob = await synapse.registerUser('bob', { password: PASSWORD });
  await scenario(t, { baseUrl: hearth.baseUrl, name: 'alice', userId: aliceId }, { baseUrl: synapse.clientUrl, name: 'bob', userId: bob.userId });
});

test.serial('Synapse <-> Hearth: the room on Synapse; a new Hearth device is learnt by Synapse users and decrypts', async (t) => {
  const carol = await synapse.registerUser('carol', { password: PASSWORD });
  const daveId = await registerWithSdk(hearth.baseUrl, 'dave', PASSWORD);
  await scenario(t, { baseUrl: synapse.clientUrl, name: 'carol', userId: carol.userId }, { baseUrl: hearth.baseUrl, name: 'dave', userId: daveId });
});

test.serial('Hearth <-> Hearth: each side decrypts the other; a new device on the other gateway is learnt and decrypts', async (t) => {
  const erinId = await registerWithSdk(hearth.baseUrl, 'erin', PASSWORD);
  const frankId = await registerWithSdk(cabin.baseUrl, 'frank', PASSWORD);
  await scenario(t, { baseUrl: hearth.baseUrl, name: 'erin', userId: erinId }, { baseUrl: cabin.baseUrl, name: 'frank', userId: frankId });
});
