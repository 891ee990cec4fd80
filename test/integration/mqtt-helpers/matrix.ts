/**
 * The person's side of the MQTT end-to-end tests: an admin of the gateway (so the bridge invites
 * them to every device room, docs/events.md "Device rooms") using matrix-js-sdk 37.5.0, joining
 * device rooms as they are invited and reading their `org.hearth.*` state.
 */
import * as sdk from 'matrix-js-sdk';
import { loginWithSdk, startSdkClient, waitFor } from '../helpers/sdk.js';
import type { MqttGateway } from './gateway.js';

declare module 'matrix-js-sdk/lib/@types/event.js' {
  interface TimelineEvents {
    'org.hearth.command': { sensor: string; value: unknown; device?: string };
  }
}

/**
 * matrix-js-sdk arms a timer per request for its local timeout (`timeoutSignal` in http-api/utils:
 * 110 s for a /sync long-poll) and never clears it, so a stopped client keeps the test process
 * alive for up to two minutes after the last test. Long timers are unref'd here: they still fire
 * while the process runs, but no longer hold it open. Applies only to this test process.
 */
const LONG_TIMER_MS = 30_000;
const originalSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = Object.assign(
  (callback: (...args: any[]) => void, ms?: number, ...args: any[]) => {
    const timer = originalSetTimeout(callback, ms, ...args);
    if ((ms ?? 0) >= LONG_TIMER_MS) timer.unref();
    return timer;
  },
  originalSetTimeout,
) as typeof setTimeout;

export interface Person {
  client: sdk.MatrixClient;
  userId: string;
  accessToken: string;
}

/**
 * Creates the account with the CLI (`--admin` makes them an owner of every device room) and logs in
 * and starts a client through the SDK.
 */
export async function startPerson(gateway: MqttGateway, name: string, password: string, opts: { admin?: boolean } = {}): Promise<Person> {
  await gateway.addUser(name, password, opts);
  const creds = await loginWithSdk(gateway.server.baseUrl, name, password);
  const client = await startSdkClient(gateway.server.baseUrl, creds);
  return { client, userId: creds.userId, accessToken: creds.accessToken };
}

/**
 * Waits for an invite to the room created by `creatorUserId` (a device's Matrix user), joins it,
 * and waits until the joined room's state holds `org.hearth.device`. Returns the room id.
 */
export async function joinDeviceRoom(client: sdk.MatrixClient, creatorUserId: string, timeoutMs = 15_000): Promise<string> {
  const createdBy = (room: sdk.Room) => room.currentState.getStateEvents('m.room.create', '')?.getSender() === creatorUserId;
  let room: sdk.Room | undefined;
  await waitFor(() => (room = client.getRooms().find((r) => createdBy(r) && ['invite', 'join'].includes(r.getMyMembership()))) !== undefined, `an invite from ${creatorUserId}`, timeoutMs);
  const roomId = room!.roomId;
  if (room!.getMyMembership() === 'invite') await client.joinRoom(roomId);
  const seen = () => {
    const r = client.getRoom(roomId);
    const state = r ? [...r.currentState.events.entries()].map(([type, byKey]) => `${type}[${[...byKey.keys()].join(',')}]`) : [];
    return `membership ${r?.getMyMembership()}, state ${state.join(' ')}`;
  };
  try {
    await waitFor(() => {
      const joined = client.getRoom(roomId);
      return joined?.getMyMembership() === 'join' && joined.currentState.getStateEvents('org.hearth.device', '') !== null;
    }, `joined ${roomId} with its org.hearth.device state`, timeoutMs);
  } catch (err) {
    // Tells a client that missed its join from a server that lost it.
    const full = (await (await fetch(`${client.getHomeserverUrl()}/_matrix/client/v3/sync`, { headers: { authorization: `Bearer ${client.getAccessToken()}` } })).json()) as any;
    throw new Error(`${(err as Error).message}; client sees ${seen()}; sync token ${client.store.getSyncToken()}; a fresh /sync has it in ${['join', 'invite', 'leave'].filter((k) => full.rooms?.[k]?.[roomId]).join(',')} (next_batch ${full.next_batch})`);
  }
  return roomId;
}

/** The content of a state event as the client sees it, or `undefined`. */
export function stateContent(client: sdk.MatrixClient, roomId: string, type: string, stateKey = ''): Record<string, unknown> | undefined {
  return client.getRoom(roomId)?.currentState.getStateEvents(type, stateKey)?.getContent();
}

/** Waits until the state event's content satisfies `predicate`; returns that content. */
export async function waitForState(
  client: sdk.MatrixClient,
  roomId: string,
  type: string,
  stateKey: string,
  predicate: (content: Record<string, unknown>) => boolean,
  timeoutMs = 15_000,
): Promise<Record<string, unknown>> {
  let content: Record<string, unknown> | undefined;
  await waitFor(
    () => (content = stateContent(client, roomId, type, stateKey)) !== undefined && predicate(content),
    `${type}/${stateKey} in ${roomId} to match (last: ${JSON.stringify(stateContent(client, roomId, type, stateKey))})`,
    timeoutMs,
  );
  return content!;
}

/** Waits for a timeline event in the room that satisfies `predicate`. */
export async function waitForTimelineEvent(
  client: sdk.MatrixClient,
  roomId: string,
  predicate: (event: sdk.MatrixEvent) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<sdk.MatrixEvent> {
  let found: sdk.MatrixEvent | undefined;
  await waitFor(() => (found = client.getRoom(roomId)?.getLiveTimeline().getEvents().find(predicate)) !== undefined, what, timeoutMs);
  return found!;
}

/** The `m.notice`s of a room's live timeline, oldest first. */
export function notices(client: sdk.MatrixClient, roomId: string): sdk.MatrixEvent[] {
  return (client.getRoom(roomId)?.getLiveTimeline().getEvents() ?? []).filter(
    (e) => e.getType() === 'm.room.message' && e.getContent().msgtype === 'm.notice',
  );
}

/** The full state of a room over the Client-Server API (`GET /rooms/{roomId}/state`), sorted. */
export async function roomState(baseUrl: string, token: string, roomId: string): Promise<Array<{ type: string; state_key: string; content: unknown; event_id: string }>> {
  const res = await fetch(`${baseUrl}/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state`, { headers: { authorization: `Bearer ${token}` } });
  if (res.status !== 200) throw new Error(`GET state of ${roomId}: ${res.status} ${await res.text()}`);
  const events = (await res.json()) as Array<{ type: string; state_key: string; content: unknown; event_id: string }>;
  return events
    .map(({ type, state_key, content, event_id }) => ({ type, state_key, content, event_id }))
    .sort((a, b) => (a.type + '\u0000' + a.state_key).localeCompare(b.type + '\u0000' + b.state_key));
}

/** `GET /_matrix/client/v1/org.hearth/rooms/{roomId}/telemetry/{sensor}` (docs/telemetry.md). */
export async function telemetry(
  baseUrl: string,
  token: string,
  roomId: string,
  sensor: string,
  query: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const qs = new URLSearchParams(query).toString();
  const res = await fetch(
    `${baseUrl}/_matrix/client/v1/org.hearth/rooms/${encodeURIComponent(roomId)}/telemetry/${encodeURIComponent(sensor)}${qs ? `?${qs}` : ''}`,
    { headers: { authorization: `Bearer ${token}` } },
  );
  return { status: res.status, body: await res.json().catch(() => undefined) };
}
