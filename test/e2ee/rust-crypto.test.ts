/**
 * Interoperability with the Rust crypto that matrix-js-sdk 37.5.0 runs (its OlmMachine from
 * @matrix-org/matrix-sdk-crypto-wasm): two machines upload keys, query each other, claim a one-time
 * key, set up Olm and Megolm, and one decrypts what the other encrypted. Every key request goes
 * through our /keys routes; `/sync` is stood in for by feeding each machine the service's
 * `deviceListsSince`, `oneTimeKeyCounts` and `unusedFallbackKeyTypes`, and to-device messages are
 * handed over directly (sending them is another module's job).
 */
import test from 'ava';
import {
  DecryptionSettings,
  DeviceId,
  DeviceLists,
  EncryptionSettings,
  OlmMachine,
  RequestType,
  RoomId,
  TrustRequirement,
  UserId,
  initAsync,
} from '@matrix-org/matrix-sdk-crypto-wasm';
import { authAs, openE2eeStack, post, type E2eeStack } from './stack.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';
const ROOM = '!room:test.local';

const ROUTES: Partial<Record<RequestType, string>> = {
  [RequestType.KeysUpload]: '/_matrix/client/v3/keys/upload',
  [RequestType.KeysQuery]: '/_matrix/client/v3/keys/query',
  [RequestType.KeysClaim]: '/_matrix/client/v3/keys/claim',
  [RequestType.SignatureUpload]: '/_matrix/client/v3/keys/signatures/upload',
};

interface Client {
  userId: string;
  deviceId: string;
  machine: OlmMachine;
  /** Stream position of the last stand-in sync. */
  since: number;
  inbox: object[];
}

async function newClient(s: E2eeStack, userId: string, deviceId: string): Promise<Client> {
  s.addDevice(userId, deviceId);
  s.rooms.set(ROOM, userId, 'join', 0);
  return { userId, deviceId, machine: await OlmMachine.initialize(new UserId(userId), new DeviceId(deviceId)), since: 0, inbox: [] };
}

/** Sends the machine's outgoing key requests to our routes and reports the responses back. */
async function sendOutgoing(s: E2eeStack, c: Client): Promise<void> {
  for (const request of await c.machine.outgoingRequests()) {
    const route = ROUTES[request.type as RequestType];
    if (!route) continue;
    const res = await post(s.app, route, authAs(c.userId, c.deviceId), JSON.parse(request.body));
    if (res.status !== 200) throw new Error(`${route} -> ${res.status} ${JSON.stringify(res.body)}`);
    // Only a signature upload made outside the request queue has no id; none come through here.
    if (request.id !== undefined) await c.machine.markRequestAsSent(request.id, request.type, JSON.stringify(res.body));
  }
}

/** A stand-in for the E2EE parts of an incremental /sync. */
async function sync(s: E2eeStack, c: Client): Promise<void> {
  const to = s.notifier.position;
  const lists = await s.e2ee.deviceListsSince(c.userId, c.since, to);
  const counts = await s.e2ee.oneTimeKeyCounts(c.userId, c.deviceId);
  const fallback = await s.e2ee.unusedFallbackKeyTypes(c.userId, c.deviceId);
  const toDevice = c.inbox.splice(0);
  await c.machine.receiveSyncChanges(
    JSON.stringify(toDevice),
    new DeviceLists(lists.changed.map((u) => new UserId(u)), lists.left.map((u) => new UserId(u))),
    new Map(Object.entries(counts)),
    new Set(fallback),
  );
  c.since = to;
  await sendOutgoing(s, c);
}

/** Delivers to-device requests (`messages: user -> device -> content`) to the recipients' inboxes. */
function deliver(from: Client, requests: Array<{ event_type: string; body: string }>, clients: Client[]): void {
  for (const request of requests) {
    const messages = JSON.parse(request.body).messages as Record<string, Record<string, object>>;
    for (const [userId, devices] of Object.entries(messages)) {
      for (const [deviceId, content] of Object.entries(devices)) {
        const recipient = clients.find((c) => c.userId === userId && c.deviceId === deviceId);
        recipient?.inbox.push({ sender: from.userId, type: request.event_type, content });
      }
    }
  }
}

test.before(async () => {
  await initAsync();
});

test('two Rust crypto clients set up Olm and Megolm through the /keys routes', async (t) => {
  const s = await openE2eeStack();
  t.teardown(() => s.close());
  const alice = await newClient(s, ALICE, 'ALICEDEV');
  const bob = await newClient(s, BOB, 'BOBDEV');
  t.teardown(() => {
    alice.machine.close();
    bob.machine.close();
  });

  // Device keys, one-time and fallback keys are uploaded, and accepted as correctly signed.
  await sync(s, alice);
  await sync(s, bob);
  t.true((await s.e2ee.oneTimeKeyCounts(BOB, 'BOBDEV')).signed_curve25519! > 0);
  t.deepEqual(await s.e2ee.unusedFallbackKeyTypes(BOB, 'BOBDEV'), ['signed_curve25519']);
  const bobCountBefore = (await s.e2ee.oneTimeKeyCounts(BOB, 'BOBDEV')).signed_curve25519!;

  // Each tracks the other (room members of an encrypted room) and fetches their keys.
  await alice.machine.updateTrackedUsers([new UserId(BOB)]);
  await bob.machine.updateTrackedUsers([new UserId(ALICE)]);
  await sendOutgoing(s, alice);
  await sendOutgoing(s, bob);
  const bobsDevice = await alice.machine.getDevice(new UserId(BOB), new DeviceId('BOBDEV'));
  t.truthy(bobsDevice, "Alice knows Bob's device");

  // Alice claims one of Bob's one-time keys and shares a Megolm session with him over Olm.
  const claim = await alice.machine.getMissingSessions([new UserId(BOB)]);
  t.truthy(claim);
  const claimed = await post(s.app, ROUTES[RequestType.KeysClaim]!, authAs(ALICE, 'ALICEDEV'), JSON.parse(claim!.body));
  await alice.machine.markRequestAsSent(claim!.id, RequestType.KeysClaim, JSON.stringify(claimed.body));
  t.is((await s.e2ee.oneTimeKeyCounts(BOB, 'BOBDEV')).signed_curve25519, bobCountBefore - 1);
  const shares = await alice.machine.shareRoomKey(new RoomId(ROOM), [new UserId(BOB)], new EncryptionSettings());
  t.true(shares.length > 0);
  deliver(alice, shares, [bob]);
  await sync(s, bob);

  // Bob decrypts Alice's room message.
  const content = await alice.machine.encryptRoomEvent(new RoomId(ROOM), 'm.room.message', JSON.stringify({ msgtype: 'm.text', body: 'warm in here' }));
  const event = { type: 'm.room.encrypted', sender: ALICE, event_id: '$e1', origin_server_ts: Date.now(), room_id: ROOM, content: JSON.parse(content) };
  const decrypted = await bob.machine.decryptRoomEvent(JSON.stringify(event), new RoomId(ROOM), new DecryptionSettings(TrustRequirement.Untrusted));
  t.is(JSON.parse(decrypted.event).content.body, 'warm in here');
  t.is(decrypted.senderDevice?.toString(), 'ALICEDEV');
});

test('cross-signing bootstrapped by the Rust crypto is accepted and seen by the other user', async (t) => {
  const s = await openE2eeStack();
  t.teardown(() => s.close());
  const alice = await newClient(s, ALICE, 'ALICEDEV');
  const bob = await newClient(s, BOB, 'BOBDEV');
  t.teardown(() => {
    alice.machine.close();
    bob.machine.close();
  });
  await sync(s, alice);
  await sync(s, bob);
  await bob.machine.updateTrackedUsers([new UserId(ALICE)]);
  await sendOutgoing(s, bob);

  // Alice makes cross-signing keys: the keys, then her device's signature on the master key and the
  // self-signing key's on her device.
  const bootstrap = await alice.machine.bootstrapCrossSigning(true);
  const keys = await post(s.app, '/_matrix/client/v3/keys/device_signing/upload', authAs(ALICE, 'ALICEDEV'), JSON.parse(bootstrap.uploadSigningKeysRequest.body));
  t.is(keys.status, 200, JSON.stringify(keys.body));
  const signatures = await post(s.app, ROUTES[RequestType.SignatureUpload]!, authAs(ALICE, 'ALICEDEV'), JSON.parse(bootstrap.uploadSignaturesRequest.body));
  t.deepEqual(signatures.body, { failures: {} });
  t.true((await alice.machine.crossSigningStatus()).hasMaster);

  // Bob learns through device_lists that Alice changed, fetches her keys again and sees her
  // device signed by her self-signing key.
  await sync(s, bob);
  const identity = await bob.machine.getIdentity(new UserId(ALICE));
  t.truthy(identity, "Bob sees Alice's cross-signing identity");
  const device = await bob.machine.getDevice(new UserId(ALICE), new DeviceId('ALICEDEV'));
  t.true(device!.isCrossSignedByOwner());
});
