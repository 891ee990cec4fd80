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
 * Every run starts from the same room: once prepared, the instance's SQLite database is copied aside
 * (`prepared-<members>.db` in the instance directory, which the peer script deletes with the
 * instance or when its port changes) and put back before each start. Without that, each run's
 * joiner would leave its membership events in the room, signed by a server that no longer exists,
 * and the next joiner would have to verify them (see docs/performance.md, Federation).
 *
 * Run it alone: `node --import tsx scripts/lib/big-room.ts [MEMBERS]` (prepares, prints, stops).
 * Start afresh: `scripts/synapse-peer destroy bench-big-room`.
 */
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startSynapse, SYNAPSE_CACHE, type SynapsePeer } from '../../test/integration/helpers/synapse.js';
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

/** scripts/synapse-peer's directory of the instance (INSTANCES_IN_CHROOT there). */
const INSTANCE_DIR = join(SYNAPSE_CACHE, 'srv/hearth-peers', BIG_ROOM_INSTANCE);

function snapshotPath(members: number): string {
  return join(INSTANCE_DIR, `prepared-${members}.db`);
}

/** Puts the prepared database back (the instance is stopped); false when there is none yet. */
function restoreSnapshot(members: number): boolean {
  const snapshot = snapshotPath(members);
  if (!existsSync(snapshot)) return false;
  for (const suffix of ['-wal', '-shm', '-journal']) rmSync(join(INSTANCE_DIR, `homeserver.db${suffix}`), { force: true });
  copyFileSync(snapshot, join(INSTANCE_DIR, 'homeserver.db'));
  return true;
}

const startInstance = () => startSynapse({ persistent: { name: BIG_ROOM_INSTANCE, ...bigRoomPorts() } });

/**
 * Starts the persistent Synapse with its big room of `members` joined users: from the prepared
 * snapshot when there is one, else preparing the room (or finishing an interrupted preparation)
 * and taking the snapshot.
 */
export async function startBigRoom(members: number, log: (line: string) => void = () => undefined): Promise<BigRoom> {
  const restored = restoreSnapshot(members);
  let synapse = await startInstance();
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
    const joinedNow = async () => new Set(Object.keys((await client.ok('GET', `${V3}/rooms/${encodeURIComponent(roomId)}/joined_members`, undefined, token)).joined ?? {}));
    const joined = await joinedNow();
    // The admin is one member; the others are member0001.. up to the count.
    const missing: string[] = [];
    for (let i = 1; i < members; i++) {
      const userId = `@${MEMBER_PREFIX}${String(i).padStart(4, '0')}:${synapse.serverName}`;
      if (!joined.has(userId)) missing.push(userId);
    }
    if (restored && (missing.length > 0 || joined.size !== members)) {
      throw new Error(`the prepared snapshot of ${INSTANCE_DIR} holds ${joined.size} members, not ${members}: run 'scripts/synapse-peer destroy ${BIG_ROOM_INSTANCE}' to prepare it again`);
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
    const count = (await joinedNow()).size;
    if (count !== members) {
      throw new Error(`the big room has ${count} joined members, not ${members} (an earlier run's joiner?): run 'scripts/synapse-peer destroy ${BIG_ROOM_INSTANCE}' to prepare it again`);
    }
    const preparedSeconds = missing.length > 0 ? (performance.now() - started) / 1000 : 0;
    if (!restored) {
      // Stopped, Synapse's SQLite database is one consistent file: keep it for every later run.
      client.close();
      await synapse.stop();
      copyFileSync(join(INSTANCE_DIR, 'homeserver.db'), snapshotPath(members));
      synapse = await startInstance();
    }
    return { synapse, roomId, alias, joinedMembers: count, preparedSeconds, adminToken: token };
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
