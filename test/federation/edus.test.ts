/**
 * EDUs and E2EE across servers, in process against a real engine, LevelDB, the local services and
 * `/sync` (server-server "EDUs", "Device Management", "End-to-End Encryption", "Send-to-device
 * messaging"). A remote server's user (rob) joins a room here through a real PDU; the remote server
 * itself is a fake `FederationRequests` that records our transactions and answers our queries.
 */
import test from 'ava';
import pino from 'pino';
import { ReceiptService } from '../../src/accounts/receipts.js';
import { ToDeviceService } from '../../src/accounts/to-device.js';
import { TypingManager } from '../../src/accounts/typing.js';
import { finalizePdu } from '../../src/core/event-builder.js';
import { serverNameOf } from '../../src/core/identifiers.js';
import { getRoomVersionRules } from '../../src/core/room-versions.js';
import { generateSigningKey } from '../../src/core/signing.js';
import { stateKey, type JsonObject } from '../../src/core/types.js';
import { engineMembershipView } from '../../src/e2ee/membership-view.js';
import { E2eeService } from '../../src/e2ee/service.js';
import { assembleFederationEdus, type FederationEdus } from '../../src/federation/edus/federation-edus.js';
import { PduHandler } from '../../src/federation/receive/pdu-handler.js';
import { TransactionReceiver } from '../../src/federation/receive/transactions.js';
import type { FederationRequests } from '../../src/federation/requests.js';
import type { Edu } from '../../src/federation/send/sender.js';
import type { RoomEngine } from '../../src/rooms/engine.js';
import { createHttpServer } from '../../src/http/server.js';
import { PresenceService } from '../../src/presence/presence.js';
import { joinedRoomsVia } from '../../src/presence/joined-rooms.js';
import { call, openRoomStack, SERVER, type RoomStack } from '../helpers/room-stack.js';
import { makeCrossSigningKey, makeDevice } from '../e2ee/stack.js';

const REMOTE = 'remote.test';
const remoteKey = generateSigningKey();
const alice = `@alice:${SERVER}`;
const rob = `@rob:${REMOTE}`;
const log = pino({ level: 'silent' });

/** The remote server as our outgoing requests see it. */
class FakeRemote implements FederationRequests {
  readonly gets: string[] = [];
  readonly posts: Array<{ path: string; body: JsonObject }> = [];
  /** Answers `GET /user/devices/{userId}`. */
  devices: (userId: string) => unknown = () => {
    throw Object.assign(new Error('not found'), { status: 404 });
  };
  /** Answers POSTs (`user/keys/query`, `user/keys/claim`). */
  answer: (path: string, body: JsonObject) => Promise<unknown> = async () => ({});

  async get(_destination: string, path: string): Promise<unknown> {
    this.gets.push(path);
    const match = /^\/_matrix\/federation\/v1\/user\/devices\/(.+)$/.exec(path);
    if (!match) throw new Error(`unexpected GET ${path}`);
    return this.devices(decodeURIComponent(match[1]!));
  }

  async put(_destination: string, path: string): Promise<unknown> {
    throw new Error(`unexpected PUT ${path}`);
  }

  async post(destination: string, path: string, body: unknown): Promise<unknown> {
    if (destination !== REMOTE) throw Object.assign(new Error(`${destination} is down`), { status: undefined });
    this.posts.push({ path, body: body as JsonObject });
    return this.answer(path, body as JsonObject);
  }

}

/**
 * The federation sender as the EDU module uses it: `serversInRoom` by its contract (the other
 * servers with joined members; none for a room created with `m.federate: false`), and the EDUs
 * queued per destination recorded.
 */
class RecordingSender {
  readonly sent: Array<{ destination: string; edu: Edu }> = [];

  constructor(private readonly engine: RoomEngine) {}

  async serversInRoom(roomId: string): Promise<string[]> {
    const state = await this.engine.currentState(roomId);
    if (state.get(stateKey('m.room.create', ''))?.pdu.content['m.federate'] === false) return [];
    const servers = new Set<string>();
    for (const event of state.values()) {
      if (event.pdu.type === 'm.room.member' && event.pdu.content.membership === 'join') servers.add(serverNameOf(event.pdu.state_key ?? '')!);
    }
    servers.delete(SERVER);
    return [...servers];
  }

  sendEdu(destination: string, edu: Edu): void {
    this.sent.push({ destination, edu });
  }

  /** Every EDU of a type sent, with its destination. */
  edus(type: string): Array<{ destination: string; content: JsonObject }> {
    return this.sent.filter((s) => s.edu.edu_type === type).map((s) => ({ destination: s.destination, content: s.edu.content }));
  }
}

interface Rig {
  stack: RoomStack;
  remote: FakeRemote;
  receiver: TransactionReceiver;
  typing: TypingManager;
  receipts: ReceiptService;
  toDevice: ToDeviceService;
  e2ee: E2eeService;
  edus: FederationEdus;
  sender: RecordingSender;
  roomId: string;
  /** A room created with `m.federate: false` (rob is not in it: he cannot be). */
  sensorRoomId: string;
  txn(edus: unknown[]): Promise<void>;
}

let txnCounter = 0;

async function openRig(): Promise<Rig> {
  const remote = new FakeRemote();
  const devices = new Map<string, string[]>([[alice, ['DEV1']]]);
  let services!: { typing: TypingManager; receipts: ReceiptService; toDevice: ToDeviceService; e2ee: E2eeService; presence: PresenceService };
  const stack = await openRoomStack(undefined, undefined, ({ db, engine, notifier }) => {
    const accounts = {
      isLocal: (userId: string) => serverNameOf(userId) === SERVER,
      listDevices: async (userId: string) => (devices.get(userId) ?? []).map((deviceId) => ({ deviceId })),
    };
    services = {
      typing: new TypingManager(notifier),
      receipts: new ReceiptService(db, notifier),
      toDevice: new ToDeviceService(db, notifier, accounts as never),
      e2ee: new E2eeService({
        db,
        notifier,
        serverName: SERVER,
        memberships: engineMembershipView(engine),
        userDevices: async (userId) => (devices.get(userId) ?? []).map((deviceId) => ({ deviceId, displayName: `${deviceId} name` })),
      }),
      presence: new PresenceService({ notifier, joinedRoomsOf: joinedRoomsVia(engine) }),
    };
    const { typing, receipts, toDevice, e2ee, presence } = services;
    return {
      typingFor: (roomId) => typing.typingFor(roomId),
      typingChangedSince: (roomId, serial) => typing.typingChangedSince(roomId, serial),
      receiptsSince: (roomIds, from, to, viewer) => receipts.receiptsSince(roomIds, from, to, viewer),
      toDeviceSince: (userId, deviceId, from, to) => toDevice.toDeviceSince(userId, deviceId, from, to),
      acknowledgeToDevice: (userId, deviceId, upTo) => toDevice.acknowledgeToDevice(userId, deviceId, upTo),
      deviceListsSince: (userId, from, to) => e2ee.deviceListsSince(userId, from, to),
      presenceSince: (userId, since, to) => presence.eventsFor(userId, since, to),
    };
  });
  const { typing, receipts, toDevice, e2ee, presence } = services;
  const pdus = new PduHandler({
    engine: stack.engine,
    log,
    keys: {
      publicKey: async (server, keyId) => {
        if (server === REMOTE && keyId === remoteKey.keyId) return remoteKey.publicKey;
        if (server === SERVER && keyId === stack.key.keyId) return stack.key.publicKey;
        return undefined;
      },
    },
    remote: {
      event: async () => {
        throw new Error('404');
      },
      backfill: async () => [],
      missingEvents: async () => [],
      stateIds: async () => {
        throw new Error('no state_ids here');
      },
    },
  });
  const receiver = new TransactionReceiver({ db: stack.db, pdus, log });
  const sender = new RecordingSender(stack.engine);
  const edus = await assembleFederationEdus({
    serverName: SERVER,
    db: stack.db,
    engine: stack.engine,
    transactions: receiver,
    sender,
    requests: remote,
    typing,
    receipts,
    presence,
    toDevice,
    e2ee,
    deviceDisplayName: async (_userId, deviceId) => `${deviceId} name`,
    log,
  });

  // A public room of alice's that rob joins through a PDU of his server.
  const roomId = await stack.engine.createRoom('11', alice, {}, [
    { type: 'm.room.member', sender: alice, state_key: alice, content: { membership: 'join' } },
    { type: 'm.room.join_rules', sender: alice, state_key: '', content: { join_rule: 'public' } },
  ]);
  const { template } = await stack.engine.templateForRemote(roomId, { type: 'm.room.member', sender: rob, state_key: rob, content: { membership: 'join' } });
  const { pdu } = finalizePdu(template, { rules: getRoomVersionRules('11')!, serverName: REMOTE, key: remoteKey });
  const joined = await pdus.receive(REMOTE, pdu);
  if (joined.status !== 'accepted') throw new Error(`rob's join was not accepted: ${joined.error}`);
  const sensorRoomId = await stack.engine.createRoom('11', alice, { 'm.federate': false }, [
    { type: 'm.room.member', sender: alice, state_key: alice, content: { membership: 'join' } },
  ]);
  return {
    stack, remote, receiver, typing, receipts, toDevice, e2ee, edus, sender, roomId, sensorRoomId,
    async txn(list) {
      await receiver.receive(REMOTE, `t${++txnCounter}`, { origin: REMOTE, pdus: [], edus: list });
    },
  };
}

async function closeRig(rig: Rig): Promise<void> {
  await rig.edus.stop();
  rig.typing.stop();
  return rig.stack.close();
}

/** Polls until `probe` holds (our transactions go out asynchronously); fails after 10 s. */
async function eventually(what: string, probe: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function sync(rig: Rig, since?: string): Promise<any> {
  const res = await call(rig.stack, 'GET', `/_matrix/client/v3/sync?timeout=0${since ? `&since=${encodeURIComponent(since)}` : ''}`, alice);
  if (res.status !== 200) throw new Error(`sync ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

function ephemeralOf(body: any, roomId: string, type: string): any {
  return body.rooms?.join?.[roomId]?.ephemeral?.events?.find((e: any) => e.type === type)?.content;
}

test('incoming typing and receipts of a joined remote user show in /sync like local ones; a stranger\'s are ignored', async (t) => {
  const rig = await openRig();
  t.teardown(() => closeRig(rig));
  const first = await sync(rig);

  await rig.txn([
    { edu_type: 'm.typing', content: { room_id: rig.roomId, user_id: rob, typing: true } },
    // A user of another server, sent by remote.test: ignored.
    { edu_type: 'm.typing', content: { room_id: rig.roomId, user_id: '@eve:elsewhere.test', typing: true } },
    // A user of remote.test who is not in the room: ignored.
    { edu_type: 'm.typing', content: { room_id: rig.roomId, user_id: `@ghost:${REMOTE}`, typing: true } },
  ]);
  const afterTyping = await sync(rig, first.next_batch);
  t.deepEqual(ephemeralOf(afterTyping, rig.roomId, 'm.typing'), { user_ids: [rob] });

  const eventId = (await rig.stack.engine.stateEvent(rig.roomId, 'm.room.member', rob))!.event_id;
  await rig.txn([
    { edu_type: 'm.typing', content: { room_id: rig.roomId, user_id: rob, typing: false } },
    { edu_type: 'm.receipt', content: { [rig.roomId]: { 'm.read': { [rob]: { event_ids: [eventId], data: { ts: 1234 } } } } } },
    { edu_type: 'm.receipt', content: { [rig.roomId]: { 'm.read': { '@eve:elsewhere.test': { event_ids: [eventId], data: { ts: 1 } } } } } },
  ]);
  const afterReceipt = await sync(rig, afterTyping.next_batch);
  t.deepEqual(ephemeralOf(afterReceipt, rig.roomId, 'm.typing'), { user_ids: [] });
  t.deepEqual(ephemeralOf(afterReceipt, rig.roomId, 'm.receipt'), { [eventId]: { 'm.read': { [rob]: { ts: 1234 } } } });
});

test('outgoing typing and read receipts go to the servers in the room, never for a m.federate: false room; private receipts stay', async (t) => {
  const rig = await openRig();
  t.teardown(() => closeRig(rig));
  rig.typing.setTyping(rig.sensorRoomId, alice, true);
  rig.typing.setTyping(rig.roomId, alice, true);
  await rig.receipts.setReceipt(alice, rig.roomId, 'm.read.private', '$private');
  await rig.receipts.setReceipt(alice, rig.roomId, 'm.read', '$public', 'main', 4321);
  await eventually('the typing and receipt EDUs', () => rig.sender.edus('m.typing').length > 0 && rig.sender.edus('m.receipt').length > 0);
  t.deepEqual(rig.sender.edus('m.typing'), [{ destination: REMOTE, content: { room_id: rig.roomId, user_id: alice, typing: true } }]);
  t.deepEqual(rig.sender.edus('m.receipt'), [
    { destination: REMOTE, content: { [rig.roomId]: { 'm.read': { [alice]: { event_ids: ['$public'], data: { ts: 4321, thread_id: 'main' } } } } } },
  ]);
  // Remote users' receipts and typing are not sent back out.
  await rig.txn([{ edu_type: 'm.typing', content: { room_id: rig.roomId, user_id: rob, typing: true } }]);
  rig.typing.setTyping(rig.roomId, alice, false);
  await eventually('the typing stop', () => rig.sender.edus('m.typing').length === 2);
  t.deepEqual(rig.sender.edus('m.typing').map((e) => [e.content.user_id, e.content.typing]), [[alice, true], [alice, false]]);
});

test('to-device: remote messages reach local devices once per message_id; local messages to remote users go out as m.direct_to_device', async (t) => {
  const rig = await openRig();
  t.teardown(() => closeRig(rig));
  const first = await sync(rig);
  const edu = { edu_type: 'm.direct_to_device', content: { sender: rob, type: 'm.room_key_request', message_id: 'msg-1', messages: { [alice]: { '*': { action: 'request' } }, '@nobody:elsewhere.test': { X: {} } } } };
  await rig.txn([edu]);
  await rig.txn([edu]); // retransmitted in another transaction: delivered once
  await rig.txn([{ ...edu, content: { ...edu.content, sender: '@eve:elsewhere.test', message_id: 'msg-2' } }]); // not the origin's user
  await rig.txn([{ ...edu, content: { ...edu.content, message_id: 'msg-3', messages: { [alice]: { NO_SUCH_DEVICE: { a: 1 } } } } }]);
  const body = await sync(rig, first.next_batch);
  t.deepEqual(body.to_device.events, [{ type: 'm.room_key_request', sender: rob, content: { action: 'request' } }]);

  await rig.toDevice.send({ userId: alice, deviceId: 'DEV1' }, 'm.room.encrypted', 'txn1', { [rob]: { ROBPHONE: { ciphertext: 'x' } }, [alice]: { DEV1: { self: true } } });
  await eventually('the to-device EDU', () => rig.sender.edus('m.direct_to_device').length > 0);
  const [out] = rig.sender.edus('m.direct_to_device');
  t.is(out!.destination, REMOTE);
  t.is(out!.content.sender, alice);
  t.is(out!.content.type, 'm.room.encrypted');
  t.deepEqual(out!.content.messages, { [rob]: { ROBPHONE: { ciphertext: 'x' } } });
  t.regex(out!.content.message_id as string, /^.{8,}$/);
});

test('remote device lists: the first update resyncs, the next applies, a gap resyncs again; local /sync lists rob in device_lists.changed', async (t) => {
  const rig = await openRig();
  t.teardown(() => closeRig(rig));
  const robPhone = makeDevice(rob, 'ROBPHONE');
  const robLaptop = makeDevice(rob, 'ROBLAPTOP');
  let snapshot: unknown = { user_id: rob, stream_id: 10, devices: [{ device_id: 'ROBPHONE', keys: robPhone.deviceKeys, device_display_name: 'Phone' }] };
  rig.remote.devices = () => snapshot;
  const first = await sync(rig);

  // 1. Nothing cached: the update is a gap; the list is fetched whole.
  await rig.txn([{ edu_type: 'm.device_list_update', content: { user_id: rob, device_id: 'ROBPHONE', stream_id: 10, prev_id: [9], keys: robPhone.deviceKeys } }]);
  await rig.edus.deviceLists.settled(rob);
  t.deepEqual(rig.remote.gets, [`/_matrix/federation/v1/user/devices/${encodeURIComponent(rob)}`]);
  const afterFirst = await sync(rig, first.next_batch);
  t.true(afterFirst.device_lists.changed.includes(rob));

  // 2. The next update follows stream 10: applied without asking.
  await rig.txn([{ edu_type: 'm.device_list_update', content: { user_id: rob, device_id: 'ROBLAPTOP', stream_id: 11, prev_id: [10], keys: robLaptop.deviceKeys, device_display_name: 'Laptop' } }]);
  t.is(rig.remote.gets.length, 1);
  const afterSecond = await sync(rig, afterFirst.next_batch);
  t.deepEqual(afterSecond.device_lists.changed, [rob]);
  const query = await rig.e2ee.queryKeys({ userId: alice, deviceId: 'DEV1' }, { device_keys: { [rob]: [] } });
  t.deepEqual(Object.keys(query.device_keys as JsonObject).length, 1);
  t.deepEqual(Object.keys((query.device_keys as any)[rob]).sort(), ['ROBLAPTOP', 'ROBPHONE']);
  t.deepEqual((query.device_keys as any)[rob].ROBLAPTOP.unsigned, { device_display_name: 'Laptop' });
  t.deepEqual(rig.remote.posts, [], 'answered from the cache');

  // 3. A retransmission is ignored; an update after a lost one (13 follows 12, never seen) resyncs.
  await rig.txn([{ edu_type: 'm.device_list_update', content: { user_id: rob, device_id: 'ROBLAPTOP', stream_id: 11, prev_id: [10], keys: robLaptop.deviceKeys } }]);
  t.is(rig.remote.gets.length, 1);
  snapshot = { user_id: rob, stream_id: 13, devices: [{ device_id: 'ROBLAPTOP', keys: robLaptop.deviceKeys }] };
  await rig.txn([{ edu_type: 'm.device_list_update', content: { user_id: rob, device_id: 'ROBPHONE', stream_id: 13, prev_id: [12], deleted: true } }]);
  await rig.edus.deviceLists.settled(rob);
  t.is(rig.remote.gets.length, 2);
  const afterGap = await rig.e2ee.queryKeys({ userId: alice, deviceId: 'DEV1' }, { device_keys: { [rob]: [] } });
  t.deepEqual(Object.keys((afterGap.device_keys as any)[rob]), ['ROBLAPTOP']);

  // 4. Another server's user, sent by remote.test, is ignored; so is a remote user sharing no room.
  await rig.txn([{ edu_type: 'm.device_list_update', content: { user_id: '@eve:elsewhere.test', device_id: 'E', stream_id: 1 } }]);
  await rig.txn([{ edu_type: 'm.device_list_update', content: { user_id: `@ghost:${REMOTE}`, device_id: 'G', stream_id: 1 } }]);
  t.is(rig.remote.gets.length, 2);
  const last = await sync(rig, afterSecond.next_batch);
  t.false(last.device_lists.changed.includes('@eve:elsewhere.test'));
  t.false(last.device_lists.changed.includes(`@ghost:${REMOTE}`));
});

test('local device and cross-signing changes go out with stream_id and prev_id; user/devices answers the same stream_id', async (t) => {
  const rig = await openRig();
  t.teardown(() => closeRig(rig));
  const phone = makeDevice(alice, 'DEV1');
  await rig.e2ee.uploadKeys({ userId: alice, deviceId: 'DEV1' }, { device_keys: phone.deviceKeys as JsonObject });
  await eventually('the first device list update', () => rig.sender.edus('m.device_list_update').length === 1);
  const [firstUpdate] = rig.sender.edus('m.device_list_update');
  t.is(firstUpdate!.destination, REMOTE);
  t.like(firstUpdate!.content, { user_id: alice, device_id: 'DEV1', prev_id: [], device_display_name: 'DEV1 name', keys: phone.deviceKeys });

  await rig.e2ee.onDeviceDeleted(alice, 'DEV1');
  await eventually('the second device list update', () => rig.sender.edus('m.device_list_update').length === 2);
  const second = rig.sender.edus('m.device_list_update')[1]!.content;
  t.like(second, { user_id: alice, device_id: 'DEV1', deleted: true, prev_id: [firstUpdate!.content.stream_id] });
  t.true((second.stream_id as number) > (firstUpdate!.content.stream_id as number));

  // Cross-signing keys: the public two go out as m.signing_key_update; the user-signing key never leaves.
  const master = makeCrossSigningKey(alice, 'master');
  const selfSigning = makeCrossSigningKey(alice, 'self_signing', master);
  const userSigning = makeCrossSigningKey(alice, 'user_signing', master);
  await rig.e2ee.uploadCrossSigningKeys(alice, { master_key: master.body, self_signing_key: selfSigning.body, user_signing_key: userSigning.body } as JsonObject, async () => undefined);
  await eventually('the signing key update', () => rig.sender.edus('m.signing_key_update').length === 1);
  t.deepEqual(rig.sender.edus('m.signing_key_update')[0]!.content, { user_id: alice, master_key: master.body, self_signing_key: selfSigning.body });

  // The federation routes answer for local users, with the same stream_id.
  const app = createHttpServer({ logger: log });
  rig.edus.registerRoutes(app, async () => REMOTE);
  t.teardown(() => app.close());
  const devices = await app.inject({ method: 'GET', url: `/_matrix/federation/v1/user/devices/${encodeURIComponent(alice)}` });
  t.is(devices.statusCode, 200);
  t.like(devices.json(), { user_id: alice, stream_id: second.stream_id });
  const notOurs = await app.inject({ method: 'GET', url: `/_matrix/federation/v1/user/devices/${encodeURIComponent(rob)}` });
  t.is(notOurs.statusCode, 400);
  t.is(notOurs.json().errcode, 'M_INVALID_PARAM');
});

test('a new or renamed local device goes out as m.device_list_update with its display name, in the stream_id chain', async (t) => {
  const rig = await openRig();
  t.teardown(() => closeRig(rig));
  // A device created at login has no keys yet: the update names it and its display name only.
  await rig.e2ee.onDeviceChanged(alice, 'DEV1');
  await eventually('the new device update', () => rig.sender.edus('m.device_list_update').length === 1);
  const [created] = rig.sender.edus('m.device_list_update');
  t.is(created!.destination, REMOTE);
  t.deepEqual(created!.content, { user_id: alice, device_id: 'DEV1', stream_id: created!.content.stream_id, prev_id: [], device_display_name: 'DEV1 name' });
  await rig.e2ee.onDeviceChanged(alice, 'DEV1');
  await eventually('the rename update', () => rig.sender.edus('m.device_list_update').length === 2);
  t.like(rig.sender.edus('m.device_list_update')[1]!.content, { device_id: 'DEV1', prev_id: [created!.content.stream_id], device_display_name: 'DEV1 name' });
});

test('keys/query and keys/claim for remote users ask their server; a server that fails is listed in failures', async (t) => {
  const rig = await openRig();
  t.teardown(() => closeRig(rig));
  const robPhone = makeDevice(rob, 'ROBPHONE');
  rig.remote.answer = async (path, body) => {
    if (path.endsWith('/user/keys/query')) {
      return {
        device_keys: {
          [rob]: { ROBPHONE: robPhone.deviceKeys, FORGED: { ...robPhone.deviceKeys, device_id: 'OTHER' } },
          '@eve:elsewhere.test': { E: { user_id: '@eve:elsewhere.test', device_id: 'E' } },
        },
      };
    }
    if (path.endsWith('/user/keys/claim')) {
      t.deepEqual(body, { one_time_keys: { [rob]: { ROBPHONE: 'signed_curve25519' } } });
      return { one_time_keys: { [rob]: { ROBPHONE: { 'signed_curve25519:AAA': { key: 'k' } } } } };
    }
    throw new Error(path);
  };
  const query = await rig.e2ee.queryKeys({ userId: alice, deviceId: 'DEV1' }, { device_keys: { [rob]: [], '@zed:down.test': [] } });
  t.deepEqual(query.device_keys, { [rob]: { ROBPHONE: robPhone.deviceKeys } }, 'only the keys of the users asked for, of the device they name');
  t.deepEqual(query.failures, { 'down.test': { status: 503, message: 'down.test is down' } });
  t.deepEqual(rig.remote.posts[0], { path: '/_matrix/federation/v1/user/keys/query', body: { device_keys: { [rob]: [] } } });

  const claim = await rig.e2ee.claimKeys({ one_time_keys: { [rob]: { ROBPHONE: 'signed_curve25519' } } });
  t.deepEqual(claim, { one_time_keys: { [rob]: { ROBPHONE: { 'signed_curve25519:AAA': { key: 'k' } } } }, failures: {} });

  rig.remote.answer = async () => {
    throw Object.assign(new Error('connection refused'), { status: undefined });
  };
  const failed = await rig.e2ee.queryKeys({ userId: alice, deviceId: 'DEV1' }, { device_keys: { [rob]: [] } });
  t.deepEqual(failed.failures, { [REMOTE]: { status: 503, message: 'connection refused' } });
  // A server that never answers is cut off at the client's timeout.
  rig.remote.answer = () => new Promise(() => undefined);
  const timedOut = await rig.e2ee.claimKeys({ one_time_keys: { [rob]: { ROBPHONE: 'signed_curve25519' } }, timeout: 50 });
  t.is((timedOut.failures as any)[REMOTE].status, 503);
  t.deepEqual(timedOut.one_time_keys, {});
});
