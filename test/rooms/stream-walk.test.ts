/** BackwardStreamWalk: newest first over chosen rooms, stopping at its bound, and resuming where it stopped. */
import test from 'ava';
import { call, openRoomStack } from '../helpers/room-stack.js';
import { BackwardStreamWalk } from '../../src/rooms/stream-walk.js';

const ALICE = '@alice:test.local';

test('walks resume exactly where the bound stopped them: every event of the chosen room once, newest first', async (t) => {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const create = async () => (await call(s, 'POST', '/_matrix/client/v3/createRoom', ALICE, {})).body.room_id as string;
  const [chosen, other] = [await create(), await create()];
  const sent: string[] = [];
  for (let i = 0; i < 12; i++) {
    const res = await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(chosen)}/send/m.room.message/c${i}`, ALICE, { msgtype: 'm.text', body: `c${i}` });
    sent.push(res.body.event_id);
    await call(s, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(other)}/send/m.room.message/o${i}`, ALICE, { msgtype: 'm.text', body: `o${i}` });
  }
  const short = s.engine.room(chosen)!.short;
  const seen: string[] = [];
  let before: number | undefined = s.engine.notifier.position + 1;
  let walks = 0;
  while (before !== undefined && walks < 20) {
    const walk: BackwardStreamWalk = new BackwardStreamWalk(s.engine, before, (room) => room === short, 5);
    for await (const event of walk.events()) seen.push(event.event_id);
    before = walk.resumeBefore;
    walks++;
  }
  const messages = seen.filter((id) => sent.includes(id));
  t.deepEqual(messages, [...sent].reverse(), 'no event twice, none skipped, newest first');
  for (const id of seen) t.is((await s.engine.getEvent(id))?.room_id, chosen, 'only the chosen room');
  t.true(walks >= 4, `bounded: ${walks} walks of at most 5 events of the room`);
});
