/**
 * Opening a data directory written in the version-2 layout (issue 10, finding 1). The fixture is a
 * LevelDB directory written by Hearth 866f676 (storage version 2) through its own room API:
 *
 *   createRoom (v11, public, alice 100, bob 50); bob joins; bob PUT state/m.room.power_levels%00
 *   {users: {alice: 0, bob: 100}} (accepted then: 200); alice PUT send/m.room.message/t1.
 *
 * On 866f676, after a restart bob's kick of alice succeeded (the forged type was read back as the
 * power levels). Opened now, the store migrates to version 3: the power levels are the real ones,
 * the forged event is a state entry of its own type, the kick is refused, and a retry of alice's
 * transaction still returns her event.
 */
import test from 'ava';
import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, openRoomStack } from '../helpers/room-stack.js';
import { STORAGE_VERSION } from '../../src/storage/keyspaces.js';

const FIXTURE = join(import.meta.dirname, 'fixtures/v2-nul-attack');
const INFO = JSON.parse(readFileSync(`${FIXTURE}.json`, 'utf8')) as { roomId: string; attack: number; messageEventId: string };
const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';

test('a version-2 data dir holding the NUL attack opens migrated, and the attack has no power', async (t) => {
  t.is(INFO.attack, 200, 'the fixture holds the accepted attack');
  const dir = mkdtempSync(join(tmpdir(), 'hearth-v2-'));
  cpSync(FIXTURE, dir, { recursive: true });
  const s = await openRoomStack(dir);
  t.teardown(() => s.close());
  const r = (p: string) => `/_matrix/client/v3/rooms/${encodeURIComponent(INFO.roomId)}${p}`;
  t.is(await s.db.getMeta<number>('schema_version'), STORAGE_VERSION);

  const levels = await call(s, 'GET', r('/state/m.room.power_levels'), BOB);
  t.deepEqual(levels.body.users, { [ALICE]: 100, [BOB]: 50 });
  const state = (await call(s, 'GET', r('/state'), BOB)).body as { type: string; state_key: string; content: Record<string, unknown> }[];
  const forged = state.filter((e) => e.type === 'm.room.power_levels\u0000');
  t.is(forged.length, 1, 'the forged event is state of its own type');
  t.deepEqual(forged[0]!.content, { users: { [ALICE]: 0, [BOB]: 100 } });
  t.is(state.filter((e) => e.type === 'm.room.power_levels').length, 1);

  const kick = await call(s, 'POST', r('/kick'), BOB, { user_id: ALICE });
  t.is(kick.status, 403);
  t.truthy((await call(s, 'GET', r('/joined_members'), ALICE)).body.joined[ALICE]);

  const retry = await call(s, 'PUT', r('/send/m.room.message/t1'), ALICE, { msgtype: 'm.text', body: 'written by 866f676' });
  t.is(retry.body.event_id, INFO.messageEventId, 'the transaction id moved under its endpoint');
  const message = await call(s, 'GET', r(`/event/${encodeURIComponent(INFO.messageEventId)}`), ALICE);
  t.is(message.body.content.body, 'written by 866f676');
});
