/**
 * The federation benchmark's big room (issue 11, Figures): a public room with 2,000 joined members on
 * a persistent Synapse (`scripts/synapse-peer`'s named instance `bench-big-room`, on fixed ports
 * because its server name carries the port), prepared once per machine and reused by later runs.
 *
 * Preparing it goes through Synapse's admin API, which skips what clients pay per user: users are
 * created without passwords (`PUT /_synapse/admin/v2/users/{userId}`) and joined by the admin
 * (`POST /_synapse/admin/v1/join/{roomId}`), a few at a time. It is idempotent: a run interrupted
 * half-way goes on from the members the room already has.
 *
 * Run it alone: `node --import tsx scripts/lib/big-room.ts [MEMBERS]` (prepares, prints, stops).
 */
import { startSynapse, type SynapsePeer } from '../../test/integration/helpers/synapse.js';
import { JsonHttpClient } from './http-client.js';
import { runConcurrently } from './stats.js';

const V3 = '/_matrix/client/v3';
const ADMIN = '/_synapse/admin';

export const BIG_ROOM_INSTANCE = 'bench-big-room';
export const BIG_ROOM_ALIAS_LOCALPART = 'bench-big-room';
const ADMIN_USER = 'bench-admin';
const ADMIN_PASSWORD = 'bench-admin-password';
const MEMBER_PREFIX = 'member';

/** Fixed ports of the persistent instance (`HEARTH_BENCH_BIG_ROOM_PORT`, client API on the next port). */
export function bigRoomPorts(): { federationPort: number; clientPort: number } {
  const federationPort = Number(process.env.HEARTH_BENCH_BIG_ROOM_PORT ?? 38448);
  if (!Number.isInteger(federationPort) || federationPort < 1024 || federationPort > 65534) {
    throw new Error('HEARTH_BENCH_BIG_ROOM_PORT must be a port number between 1024 and 65534');
  }
  return { federationPort, clientPort: federationPort + 1 };
}

export interface BigRoom {
  synapse: SynapsePeer;
  roomId: string;
  alias: string;
  joinedMembers: number;
  /** Seconds spent preparing in this run (0 when the instance was ready). */
  preparedSeconds: number;
  adminToken: string;
}

async function adminToken(client: JsonHttpClient, synapse: SynapsePeer): Promise<string> {
  const login = await client.request('POST', `${V3}/login`, { type: 'm.login.password', identifier: { type: 'm.id.user', user: ADMIN_USER }, password: ADMIN_PASSWORD });
  if (login.status === 200) return login.body.access_token as string;
  return (await synapse.registerUser(ADMIN_USER, { admin: true, password: ADMIN_PASSWORD })).accessToken;
}

/** Starts (or resumes) the persistent Synapse and brings its big room to `members` joined users. */
export async function startBigRoom(members: number, log: (line: string) => void = () => undefined): Promise<BigRoom> {
  const synapse = await startSynapse({ persistent: { name: BIG_ROOM_INSTANCE, ...bigRoomPorts() } });
  const client = new JsonHttpClient(synapse.clientUrl);
  try {
    const started = performance.now();
    const token = await adminToken(client, synapse);
    const alias = `#${BIG_ROOM_ALIAS_LOCALPART}:${synapse.serverName}`;
    const lookup = await client.request('GET', `${V3}/directory/room/${encodeURIComponent(alias)}`);
    let roomId: string;
    if (lookup.status === 200) {
      roomId = lookup.body.room_id as string;
    } else {
      const created = await client.ok('POST', `${V3}/createRoom`, { preset: 'public_chat', room_alias_name: BIG_ROOM_ALIAS_LOCALPART, name: 'bench: big room' }, token);
      roomId = created.room_id as string;
    }
    const joined = new Set(Object.keys((await client.ok('GET', `${V3}/rooms/${encodeURIComponent(roomId)}/joined_members`, undefined, token)).joined ?? {}));
    // The admin is one member; the others are member0001.. up to the count.
    const missing: string[] = [];
    for (let i = 1; i < members; i++) {
      const userId = `@${MEMBER_PREFIX}${String(i).padStart(4, '0')}:${synapse.serverName}`;
      if (!joined.has(userId)) missing.push(userId);
    }
    if (missing.length > 0) log(`bench: preparing the ${members}-member room on ${synapse.serverName} (${missing.length} to join; once per machine)`);
    let done = 0;
    await runConcurrently(missing.length, 6, async (i) => {
      const userId = missing[i]!;
      const put = await client.request('PUT', `${ADMIN}/v2/users/${encodeURIComponent(userId)}`, { displayname: userId.slice(1, userId.indexOf(':')) }, token);
      if (put.status !== 200 && put.status !== 201) throw new Error(`creating ${userId}: ${put.status} ${JSON.stringify(put.body)}`);
      await client.ok('POST', `${ADMIN}/v1/join/${encodeURIComponent(roomId)}`, { user_id: userId }, token);
      if (++done % 250 === 0) log(`bench: ${done}/${missing.length} joined`);
    });
    const count = Object.keys((await client.ok('GET', `${V3}/rooms/${encodeURIComponent(roomId)}/joined_members`, undefined, token)).joined ?? {}).length;
    return { synapse, roomId, alias, joinedMembers: count, preparedSeconds: missing.length > 0 ? (performance.now() - started) / 1000 : 0, adminToken: token };
  } catch (err) {
    await synapse.stop();
    throw err;
  } finally {
    client.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const members = Number(process.argv[2] ?? 2000);
  const room = await startBigRoom(members, (line) => process.stderr.write(`${line}\n`));
  console.log(JSON.stringify({ serverName: room.synapse.serverName, roomId: room.roomId, alias: room.alias, joinedMembers: room.joinedMembers, preparedSeconds: room.preparedSeconds }));
  await room.synapse.stop();
}
