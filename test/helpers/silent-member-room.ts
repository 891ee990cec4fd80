/**
 * A room for lazy-loading tests (client-server "Lazy-loading room members"): Alice, Bob and Carol
 * joined, Carol named but silent, then three messages from Alice. The room has a name, so it has no
 * heroes (whose member events lazy loading also sends: lazy-members.test.ts).
 */
import { call, type RoomStack } from './room-stack.js';

export const ALICE = '@alice:test.local';
export const BOB = '@bob:test.local';
export const CAROL = '@carol:test.local';

/** A filter as a query parameter. */
export const q = (filter: unknown): string => encodeURIComponent(JSON.stringify(filter));

export function expectOk(res: { status: number; body: unknown }): void {
  if (res.status !== 200) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
}

export async function roomWithSilentCarol(s: RoomStack): Promise<string> {
  const roomId = (await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, { preset: 'public_chat', name: 'Kitchen' })).body.room_id as string;
  expectOk(await call(s, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, BOB, {}));
  expectOk(await call(s, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, CAROL, {}));
  await setName(s, roomId, CAROL, 'Carol');
  for (let i = 0; i < 3; i++) await say(s, roomId, ALICE, `a${i}`);
  return roomId;
}

export async function setName(s: RoomStack, roomId: string, user: string, displayname: string): Promise<void> {
  expectOk(await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(user)}`, user, { membership: 'join', displayname }));
}

let txn = 0;
/** Sends a text message; returns its event id. */
export async function say(s: RoomStack, roomId: string, user: string, body: string): Promise<string> {
  const res = await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t${txn++}`, user, { msgtype: 'm.text', body });
  expectOk(res);
  return res.body.event_id as string;
}
