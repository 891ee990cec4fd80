/**
 * Shared steps of the EDU and key scenarios (issue 11 "Proof", scenario 4 and the key exchange of
 * scenario 3): two users on two servers, any mix of Hearth and Synapse, driven through the
 * Client-Server API only, each step asserting what the other side's client reads.
 */
import type { ExecutionContext } from 'ava';
import { request } from '../integration/helpers/http.js';
import { makeDevice, signedKey } from '../e2ee/stack.js';
import { call, eventually, type Side } from './room-exchange.js';

export interface Person extends Side {
  deviceId: string;
}

export async function sync(who: Side, since?: string): Promise<any> {
  return call(who, 'GET', `/_matrix/client/v3/sync?timeout=0${since ? `&since=${encodeURIComponent(since)}` : ''}`);
}

/**
 * Syncs on from `since`, each request from the last `next_batch`, until `pick` finds something in a
 * response: a change shows in the response of the window it happened in. (Repeating one `since`
 * does not work with Synapse, which answers a repeated request from its response cache.)
 */
export async function syncUntil<T>(what: string, who: Side, since: string, pick: (body: any) => T | undefined): Promise<T> {
  let token = since;
  return eventually(what, async () => {
    const body = await sync(who, token);
    token = body.next_batch ?? token;
    return pick(body);
  });
}

/** A private room of `creator` that `invitee` (on the other server) has joined, seen joined on both. */
export async function sharedRoom(creator: Person, invitee: Person): Promise<string> {
  const roomId = (await call(creator, 'POST', '/_matrix/client/v3/createRoom', { preset: 'private_chat', invite: [invitee.userId] })).room_id as string;
  await eventually(`the invite of ${invitee.userId}`, async () => (Object.keys((await sync(invitee)).rooms?.invite ?? {}).includes(roomId) ? true : undefined));
  await call(invitee, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {});
  await eventually(`the join of ${invitee.userId} on the creator's server`, async () => {
    const res = await request(creator.base, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(invitee.userId)}`, { token: creator.token });
    return res.status === 200 && res.body.membership === 'join' ? true : undefined;
  });
  return roomId;
}

/** `typist` types in the room; `watcher` (other server) sees exactly them typing in `/sync`. */
export async function typingCrosses(t: ExecutionContext, typist: Person, watcher: Person, roomId: string): Promise<void> {
  const since = (await sync(watcher)).next_batch as string;
  await call(typist, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(typist.userId)}`, { typing: true, timeout: 30_000 });
  const typing = await syncUntil(`${typist.userId} typing, seen by ${watcher.userId}`, watcher, since, (body) => {
    const content = body.rooms?.join?.[roomId]?.ephemeral?.events?.find((e: any) => e.type === 'm.typing')?.content;
    return content?.user_ids?.includes(typist.userId) ? content : undefined;
  });
  t.deepEqual(typing, { user_ids: [typist.userId] });
  await call(typist, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(typist.userId)}`, { typing: false });
}

/** `writer` sends a message, `reader` (other server) marks it read; `writer`'s `/sync` shows the receipt. */
export async function receiptCrosses(t: ExecutionContext, reader: Person, writer: Person, roomId: string, txnId: string): Promise<void> {
  const since = (await sync(writer)).next_batch as string;
  const eventId = (await call(writer, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${txnId}`, { msgtype: 'm.text', body: 'read me' })).event_id as string;
  await eventually('the message on the reader\'s server', async () => {
    const res = await request(reader.base, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(eventId)}`, { token: reader.token });
    return res.status === 200 ? true : undefined;
  });
  await call(reader, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(eventId)}`, {});
  const receipt = await syncUntil(`${reader.userId}'s receipt, seen by ${writer.userId}`, writer, since, (body) => {
    const content = body.rooms?.join?.[roomId]?.ephemeral?.events?.find((e: any) => e.type === 'm.receipt')?.content;
    return content?.[eventId]?.['m.read']?.[reader.userId];
  });
  t.is(typeof receipt.ts, 'number');
}

/**
 * `owner` uploads device keys and a one-time key: `viewer` (other server) sees `owner` in
 * `device_lists.changed`, gets the keys from `/keys/query` and claims the one-time key, both
 * through federation; then a to-device message from `viewer` reaches `owner`'s device.
 */
export async function keysCross(t: ExecutionContext, owner: Person, viewer: Person, txnId: string): Promise<void> {
  const since = (await sync(viewer)).next_batch as string;
  const device = makeDevice(owner.userId, owner.deviceId);
  const oneTimeKey = signedKey(device);
  await call(owner, 'POST', '/_matrix/client/v3/keys/upload', { device_keys: device.deviceKeys, one_time_keys: { 'signed_curve25519:AAAAAQ': oneTimeKey } });

  const changed = await syncUntil(`${owner.userId} in device_lists.changed of ${viewer.userId}`, viewer, since, (body) =>
    body.device_lists?.changed?.includes(owner.userId) ? body.device_lists.changed : undefined,
  );
  t.true(changed.includes(owner.userId));

  const keys = await eventually(`${owner.userId}'s keys through /keys/query of ${viewer.userId}`, async () => {
    const query = await call(viewer, 'POST', '/_matrix/client/v3/keys/query', { device_keys: { [owner.userId]: [] } });
    return query.device_keys?.[owner.userId]?.[owner.deviceId];
  });
  t.like(keys, { user_id: owner.userId, device_id: owner.deviceId, keys: (device.deviceKeys as any).keys });
  t.deepEqual(keys.signatures[owner.userId], (device.deviceKeys as any).signatures[owner.userId]);

  const claim = await call(viewer, 'POST', '/_matrix/client/v3/keys/claim', { one_time_keys: { [owner.userId]: { [owner.deviceId]: 'signed_curve25519' } } });
  t.deepEqual(claim.one_time_keys, { [owner.userId]: { [owner.deviceId]: { 'signed_curve25519:AAAAAQ': oneTimeKey } } });
  t.deepEqual(claim.failures ?? {}, {});

  const ownerSince = (await sync(owner)).next_batch as string;
  const content = { algorithm: 'm.olm.v1.curve25519-aes-sha2', ciphertext: { x: txnId } };
  await call(viewer, 'PUT', `/_matrix/client/v3/sendToDevice/m.room.encrypted/${txnId}`, { messages: { [owner.userId]: { [owner.deviceId]: content } } });
  const delivered = await syncUntil(`the to-device message for ${owner.userId}`, owner, ownerSince, (body) => {
    const events = (body.to_device?.events ?? []).filter((e: any) => e.type === 'm.room.encrypted');
    return events.length > 0 ? events : undefined;
  });
  t.deepEqual(delivered, [{ type: 'm.room.encrypted', sender: viewer.userId, content }]);
}
