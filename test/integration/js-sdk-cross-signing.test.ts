/**
 * Cross-signing and server-side key backup with matrix-js-sdk 37.5.0 and its Rust crypto against a
 * running Hearth (issue 13, "What the README promises, the tests prove"): the SDK's
 * bootstrapCrossSigning uploads the keys (no password the first time, the password to replace them:
 * client-server "Cross-signing", v1.11 "If the user has no cross-signing keys, no UIA"), signs its
 * device, and another client sees both; resetKeyBackup creates a backup the SDK fills by itself,
 * and a new device, given the backup key, restores the Megolm sessions and decrypts the history it
 * could not read before ("Server-side key backups").
 *
 * The tests run in order on one server: the backup test uses Alice's cross-signed phone.
 */
import './helpers/sdk-quiet.js'; // first: before the SDK binds its loggers
import test from 'ava';
import * as sdk from 'matrix-js-sdk';
import { CrossSigningKey, CryptoEvent } from 'matrix-js-sdk/lib/crypto-api/index.js';
import { shareHearth } from './helpers/shared-hearth.js';
import { registerUser, request, type RegisteredUser } from './helpers/http.js';
import { loginWithSdk, waitFor } from './helpers/sdk.js';
import { rawRoomEvents, startCryptoClient, waitForAsync, waitForDecryptedEvent, type CryptoClient } from './e2ee-helpers/crypto-client.js';

const MEGOLM = 'm.megolm.v1.aes-sha2';
const shared = shareHearth(test);

let aliceAccount: RegisteredUser;
let bobAccount: RegisteredUser;
let alicePhone: CryptoClient;
let bob: CryptoClient;
/** An encrypted room Alice and Bob share: what makes each client track the other's keys. */
let roomId: string;

async function start(account: RegisteredUser, device?: 'new'): Promise<CryptoClient> {
  const creds = device === 'new' ? await loginWithSdk(shared.server.baseUrl, account.userId.slice(1).split(':')[0]!, account.password) : account;
  const crypto = await startCryptoClient(shared.server.baseUrl, creds);
  shared.clients.push(crypto.client);
  return crypto;
}

/**
 * The SDK's UIA callback for uploading cross-signing keys, as an app writes it: try without auth,
 * and when the server asks (401 with a session), with the password. Records whether it asked.
 */
function passwordAuth(account: RegisteredUser, asked: { count: number }) {
  return async <T>(makeRequest: (auth: sdk.AuthDict | null) => Promise<T>): Promise<T> => {
    try {
      return await makeRequest(null);
    } catch (err) {
      if (!(err instanceof sdk.MatrixError) || err.httpStatus !== 401) throw err;
      asked.count++;
      return makeRequest({ type: 'm.login.password', identifier: { type: 'm.id.user', user: account.userId }, password: account.password, session: err.data.session });
    }
  };
}

/** The master key of `userId` as the server hands it out in /keys/query. */
async function masterKeyOnServer(viewer: RegisteredUser, userId: string): Promise<string | undefined> {
  const res = await request(shared.server.baseUrl, 'POST', '/_matrix/client/v3/keys/query', { token: viewer.accessToken, json: { device_keys: { [userId]: [] } } });
  const keys = res.body.master_keys?.[userId]?.keys as Record<string, string> | undefined;
  return keys ? Object.keys(keys)[0]?.replace(/^ed25519:/, '') : undefined;
}

test.serial('bootstrapCrossSigning: keys uploaded without a password the first time, the device signed, both seen by another client', async (t) => {
  aliceAccount = await registerUser(shared.server.baseUrl, 'alice', 'pw-alice-cross-signing');
  bobAccount = await registerUser(shared.server.baseUrl, 'bob', 'pw-bob-cross-signing');
  alicePhone = await start(aliceAccount);
  bob = await start(bobAccount);
  const created = await alicePhone.client.createRoom({
    name: 'Backed up',
    preset: sdk.Preset.PrivateChat,
    invite: [bobAccount.userId],
    initial_state: [{ type: 'm.room.encryption', state_key: '', content: { algorithm: MEGOLM } }],
  });
  roomId = created.room_id;
  await waitFor(() => bob.client.getRoom(roomId)?.getMyMembership() === sdk.KnownMembership.Invite, "Bob's invite");
  await bob.client.joinRoom(roomId);
  await waitFor(() => alicePhone.client.getRoom(roomId)?.getMember(bobAccount.userId)?.membership === sdk.KnownMembership.Join, "Bob's join at Alice");
  for (const { client } of [alicePhone, bob]) await waitForAsync(() => client.getCrypto()!.isEncryptionEnabledInRoom(roomId), `encryption on at ${client.getUserId()}`);

  const crypto = alicePhone.client.getCrypto()!;
  t.false((await crypto.getCrossSigningStatus()).publicKeysOnDevice);
  t.false(await bob.client.getCrypto()!.userHasCrossSigningKeys(aliceAccount.userId, true), 'nothing to see yet');

  const asked = { count: 0 };
  await crypto.bootstrapCrossSigning({ authUploadDeviceSigningKeys: passwordAuth(aliceAccount, asked) });
  t.is(asked.count, 0, 'the first upload needs no password');
  t.deepEqual(await crypto.getCrossSigningStatus(), {
    publicKeysOnDevice: true,
    privateKeysInSecretStorage: false,
    privateKeysCachedLocally: { masterKey: true, selfSigningKey: true, userSigningKey: true },
  });
  t.true(await crypto.isCrossSigningReady());
  const masterKey = await crypto.getCrossSigningKeyId(CrossSigningKey.Master);
  t.truthy(masterKey);
  t.is(await masterKeyOnServer(bobAccount, aliceAccount.userId), masterKey!, 'the server hands out the uploaded master key');

  // Bob's client learns of the change through device_lists.changed in /sync, downloads Alice's
  // identity, and sees her phone signed by her self-signing key (/keys/signatures/upload).
  const bobCrypto = bob.client.getCrypto()!;
  await waitForAsync(() => bobCrypto.userHasCrossSigningKeys(aliceAccount.userId), "Alice's cross-signing keys at Bob, unasked");
  const phoneId = alicePhone.client.getDeviceId()!;
  await waitForAsync(async () => (await bobCrypto.getDeviceVerificationStatus(aliceAccount.userId, phoneId))?.signedByOwner === true, "Alice's phone signed by its owner, at Bob");
  t.false((await bobCrypto.getUserVerificationStatus(aliceAccount.userId)).isCrossSigningVerified(), 'Bob has not verified Alice');
  // The phone too learns of its signed device keys from its own device list change.
  await waitForAsync(async () => (await crypto.getDeviceVerificationStatus(aliceAccount.userId, phoneId))?.crossSigningVerified === true, 'the phone trusting itself through cross-signing');
  t.true(alicePhone.requests.some((r) => r.method === 'POST' && r.path === '/_matrix/client/v3/keys/signatures/upload' && r.status === 200));

  // Alice's new laptop sees her identity, and that it is not itself signed yet.
  const laptop = await start(aliceAccount, 'new');
  const laptopCrypto = laptop.client.getCrypto()!;
  t.true(await laptopCrypto.userHasCrossSigningKeys(aliceAccount.userId, true));
  await waitForAsync(async () => (await laptopCrypto.getDeviceVerificationStatus(aliceAccount.userId, phoneId))?.signedByOwner === true, 'the phone signed, at the laptop');
  t.false((await laptopCrypto.getDeviceVerificationStatus(aliceAccount.userId, laptop.client.getDeviceId()!))!.signedByOwner);
  t.deepEqual((await laptopCrypto.getCrossSigningStatus()).privateKeysCachedLocally, { masterKey: false, selfSigningKey: false, userSigningKey: false });
  laptop.client.stopClient();
});

test.serial('replacing the cross-signing keys asks for the password; /keys/query hands out the new master key, a wrong password changes nothing', async (t) => {
  const crypto = alicePhone.client.getCrypto()!;
  const before = await crypto.getCrossSigningKeyId(CrossSigningKey.Master);
  const asked = { count: 0 };
  await crypto.bootstrapCrossSigning({ setupNewCrossSigning: true, authUploadDeviceSigningKeys: passwordAuth(aliceAccount, asked) });
  t.is(asked.count, 1, 'the server asked for the password once');
  const after = await crypto.getCrossSigningKeyId(CrossSigningKey.Master);
  t.truthy(after);
  t.not(after, before);
  t.is(await masterKeyOnServer(bobAccount, aliceAccount.userId), after!);

  // A wrong password does not replace them.
  const wrong = { ...aliceAccount, password: 'not her password' };
  const refused = await t.throwsAsync(crypto.bootstrapCrossSigning({ setupNewCrossSigning: true, authUploadDeviceSigningKeys: passwordAuth(wrong, { count: 0 }) }), { instanceOf: sdk.MatrixError });
  t.is(refused?.httpStatus, 401);
  t.is(refused?.errcode, 'M_FORBIDDEN');
  t.is(await masterKeyOnServer(bobAccount, aliceAccount.userId), after!, 'the keys on the server are those of the successful reset');
});

test.serial('resetKeyBackup: the SDK backs up its room keys; a new device restores them and reads the history', async (t) => {
  const aliceId = aliceAccount.userId;
  const crypto = alicePhone.client.getCrypto()!;
  // The SDK's backup loop says how many sessions it has left to upload; 0 once it has ended.
  const remaining: number[] = [];
  alicePhone.client.on(CryptoEvent.KeyBackupSessionsRemaining, (count) => remaining.push(count));
  await crypto.resetKeyBackup();
  // resetKeyBackup starts the check that enables the new backup without waiting for it: wait here.
  const check = await crypto.checkKeyBackupAndEnable();
  const version = await crypto.getActiveSessionBackupVersion();
  t.truthy(version);
  const onServer = await request(shared.server.baseUrl, 'GET', '/_matrix/client/v3/room_keys/version', { token: aliceAccount.accessToken });
  t.is(onServer.body.version, version);
  t.is(onServer.body.algorithm, 'm.megolm_backup.v1.curve25519-aes-sha2');
  t.is(check?.backupInfo.version, version!);
  t.true(check?.trustInfo.matchesDecryptionKey, 'the backup is the one this device holds the key of');
  t.true(check?.trustInfo.trusted, 'signed by this device and its cross-signing master key');

  const bodies = ['the spare key is under the third flowerpot', 'the wifi password is on the fridge'];
  const ids: string[] = [];
  for (const body of bodies) ids.push((await alicePhone.client.sendMessage(roomId, { msgtype: sdk.MsgType.Text, body })).event_id);
  for (const [i, id] of ids.entries()) t.is((await waitForDecryptedEvent(bob, roomId, id)).getContent().body, bodies[i]);

  // The SDK uploads its Megolm session on its own; the server holds it encrypted to the backup key.
  await waitForAsync(async () => (await request(shared.server.baseUrl, 'GET', '/_matrix/client/v3/room_keys/version', { token: aliceAccount.accessToken })).body.count >= 1, 'the room key in the backup');
  await waitFor(() => remaining.at(-1) === 0, "the phone's backup loop done");
  const stored = await request(shared.server.baseUrl, 'GET', `/_matrix/client/v3/room_keys/keys?version=${version}`, { token: aliceAccount.accessToken });
  const sessions = stored.body.rooms[roomId].sessions as Record<string, { session_data: Record<string, unknown>; first_message_index: number }>;
  t.is(Object.keys(sessions).length, 1, 'one Megolm session for both messages');
  const session = Object.values(sessions)[0]!;
  t.deepEqual(Object.keys(session.session_data).sort(), ['ciphertext', 'ephemeral', 'mac']);
  t.is(session.first_message_index, 0);
  const backupKey = await crypto.getSessionBackupPrivateKey();
  t.truthy(backupKey);

  // The phone goes away (it can no longer forward keys); a new device of Alice's cannot read the history...
  alicePhone.client.stopClient();
  const tablet = await start(aliceAccount, 'new');
  const tabletRoom = () => tablet.client.getRoom(roomId);
  await waitFor(() => ids.every((id) => tabletRoom()?.findEventById(id) !== undefined), 'the encrypted history on the tablet');
  await waitFor(() => ids.every((id) => tabletRoom()!.findEventById(id)!.isDecryptionFailure()), 'the history undecryptable on the tablet');
  const raw = await rawRoomEvents(shared.server.baseUrl, aliceAccount.accessToken, roomId);
  t.true(raw.filter((e) => ids.includes(e.event_id)).every((e) => e.type === 'm.room.encrypted' && !JSON.stringify(e).includes('flowerpot')));

  // ...until it is given the backup key (as from a recovery key) and restores the backup.
  const tabletCrypto = tablet.client.getCrypto()!;
  await tabletCrypto.storeSessionBackupPrivateKey(backupKey!, version!);
  const restored = await tabletCrypto.restoreKeyBackup();
  t.deepEqual({ total: restored.total, imported: restored.imported }, { total: 1, imported: 1 });
  // The key given is the backup's: the tablet's crypto says so from the server's backup info. (Not
  // enabled here: the SDK's upload loop would start with a random pause of up to 10 s, a timer
  // that keeps the test process alive after the test.)
  const info = await tabletCrypto.getKeyBackupInfo();
  t.is(info?.version, version!);
  t.true((await tabletCrypto.isKeyBackupTrusted(info!)).matchesDecryptionKey);
  for (const [i, id] of ids.entries()) {
    const event = await waitForDecryptedEvent(tablet, roomId, id);
    t.is(event.getContent().body, bodies[i]);
    t.is(event.getSender(), aliceId);
  }
});
