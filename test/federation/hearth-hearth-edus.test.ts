/**
 * Two Hearth gateways exchanging EDUs and end-to-end encryption keys (issue 11 "Proof": scenario 4
 * between two Hearth instances, and the key exchange of scenario 3 through the Client-Server API):
 * typing and a read receipt on one side show on the other's `/sync`; a new device's keys on one side
 * put its user in the other's `device_lists.changed`, and `/keys/query` and `/keys/claim` there
 * reach them through federation; a to-device message crosses.
 */
import test from 'ava';
import { startHearth, type HearthServer } from '../integration/helpers/server.js';
import { registerUser, request, type RegisteredUser } from '../integration/helpers/http.js';
import { makeDevice, signedKey } from '../e2ee/stack.js';
import { call, eventually, setDiagnostics, type Side } from './room-exchange.js';

let home: HearthServer;
let cabin: HearthServer;
let ann: Side & { deviceId: string };
let ben: Side & { deviceId: string };
let roomId: string;

function side(server: HearthServer, user: RegisteredUser): Side & { deviceId: string } {
  return { base: server.baseUrl, token: user.accessToken, userId: user.userId, deviceId: user.deviceId };
}

async function sync(who: Side, since?: string): Promise<any> {
  return call(who, 'GET', `/_matrix/client/v3/sync?timeout=0${since ? `&since=${encodeURIComponent(since)}` : ''}`);
}

/** Syncs from the same `since` (the window stays open) until `pick` finds something in a response. */
async function syncUntil<T>(what: string, who: Side, since: string, pick: (body: any) => T | undefined): Promise<T> {
  return eventually(what, async () => pick(await sync(who, since)));
}

test.before(async () => {
  [home, cabin] = await Promise.all([startHearth({ federated: true }), startHearth({ federated: true })]);
  setDiagnostics(() => `--- home ---\n${home.output().slice(-3000)}\n--- cabin ---\n${cabin.output().slice(-3000)}`);
  const [a, b] = await Promise.all([registerUser(home.baseUrl, 'ann', 'secret-password-1'), registerUser(cabin.baseUrl, 'ben', 'secret-password-1')]);
  ann = side(home, a);
  ben = side(cabin, b);
  roomId = (await call(ann, 'POST', '/_matrix/client/v3/createRoom', { preset: 'private_chat', invite: [ben.userId] })).room_id;
  await eventually('the invite on the cabin', async () => (Object.keys((await sync(ben)).rooms?.invite ?? {}).includes(roomId) ? true : undefined));
  await call(ben, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {});
  await eventually('ben\'s join seen at home', async () => {
    const res = await request(home.baseUrl, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(ben.userId)}`, { token: ann.token });
    return res.status === 200 && res.body.membership === 'join' ? true : undefined;
  });
});

test.after.always(async () => {
  await Promise.all([home?.stop(), cabin?.stop()]);
});

test.serial('typing and a read receipt on one side show on the other\'s /sync', async (t) => {
  const since = (await sync(ben)).next_batch as string;
  await call(ann, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(ann.userId)}`, { typing: true, timeout: 30_000 });
  const typing = await syncUntil('ann typing on the cabin', ben, since, (body) => {
    const content = body.rooms?.join?.[roomId]?.ephemeral?.events?.find((e: any) => e.type === 'm.typing')?.content;
    return content?.user_ids?.includes(ann.userId) ? content : undefined;
  });
  t.deepEqual(typing, { user_ids: [ann.userId] });

  const annSince = (await sync(ann)).next_batch as string;
  const eventId = (await call(ann, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/r1`, { msgtype: 'm.text', body: 'read me' })).event_id as string;
  await eventually('the message on the cabin', async () => {
    const res = await request(cabin.baseUrl, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(eventId)}`, { token: ben.token });
    return res.status === 200 ? true : undefined;
  });
  await call(ben, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(eventId)}`, {});
  const receipt = await syncUntil('ben\'s receipt at home', ann, annSince, (body) => {
    const content = body.rooms?.join?.[roomId]?.ephemeral?.events?.find((e: any) => e.type === 'm.receipt')?.content;
    return content?.[eventId]?.['m.read']?.[ben.userId];
  });
  t.is(typeof receipt.ts, 'number');
});

test.serial('a new device\'s keys: device_lists.changed on the other side, /keys/query and /keys/claim through federation, to-device across', async (t) => {
  const since = (await sync(ann)).next_batch as string;
  const device = makeDevice(ben.userId, ben.deviceId);
  const oneTimeKey = signedKey(device);
  await call(ben, 'POST', '/_matrix/client/v3/keys/upload', { device_keys: device.deviceKeys, one_time_keys: { 'signed_curve25519:AAAAAQ': oneTimeKey } });

  const changed = await syncUntil('ben in ann\'s device_lists.changed', ann, since, (body) => (body.device_lists?.changed?.includes(ben.userId) ? body.device_lists.changed : undefined));
  t.true(changed.includes(ben.userId));

  const query = await call(ann, 'POST', '/_matrix/client/v3/keys/query', { device_keys: { [ben.userId]: [] } });
  t.deepEqual(query.failures, {});
  const keys = query.device_keys[ben.userId][ben.deviceId];
  t.like(keys, { user_id: ben.userId, device_id: ben.deviceId, keys: (device.deviceKeys as any).keys, signatures: (device.deviceKeys as any).signatures });

  const claim = await call(ann, 'POST', '/_matrix/client/v3/keys/claim', { one_time_keys: { [ben.userId]: { [ben.deviceId]: 'signed_curve25519' } } });
  t.deepEqual(claim.one_time_keys, { [ben.userId]: { [ben.deviceId]: { 'signed_curve25519:AAAAAQ': oneTimeKey } } });
  t.deepEqual(claim.failures, {});

  const benSince = (await sync(ben)).next_batch as string;
  await call(ann, 'PUT', '/_matrix/client/v3/sendToDevice/m.room.encrypted/td1', { messages: { [ben.userId]: { [ben.deviceId]: { algorithm: 'm.olm.v1.curve25519-aes-sha2', ciphertext: { x: 1 } } } } });
  const delivered = await syncUntil('the to-device message on the cabin', ben, benSince, (body) => {
    const events = body.to_device?.events ?? [];
    return events.length > 0 ? events : undefined;
  });
  t.deepEqual(delivered, [{ type: 'm.room.encrypted', sender: ann.userId, content: { algorithm: 'm.olm.v1.curve25519-aes-sha2', ciphertext: { x: 1 } } }]);
});

test.serial('an unreachable server is listed in failures of /keys/query', async (t) => {
  const query = await call(ann, 'POST', '/_matrix/client/v3/keys/query', { device_keys: { '@nobody:127.0.0.1:1': [] }, timeout: 2000 });
  t.deepEqual(Object.keys(query.failures), ['127.0.0.1:1']);
  t.is(query.failures['127.0.0.1:1'].status, 503);
});
