/**
 * GET /v1/rooms/{roomId}/hierarchy: the depth-first walk, the spec's child order, which rooms a user
 * may see, children_state, max_depth, suggested_only, pagination and bad input. Plus the pure
 * ordering against the spec's own example.
 */
import test from 'ava';
import { call, openRoomStack } from '../helpers/room-stack.js';
import { orderSpaceChildren, isValidSpaceChild, type SpaceChild } from '../../src/state/space-children.js';

const ALICE = '@alice:test.local';
const BOB = '@bob:test.local';
const V1 = '/_matrix/client/v1';
const V3 = '/_matrix/client/v3';

test('the spec example orders children by order key, then timestamp, then room id', (t) => {
  const children: SpaceChild[] = [
    { roomId: '!b:example.org', originServerTs: 1640341000000, content: { order: ' ', via: ['example.org'] } },
    { roomId: '!a:example.org', originServerTs: 1640141000000, content: { order: 'aaaa', via: ['example.org'] } },
    { roomId: '!c:example.org', originServerTs: 1640841000000, content: { order: 'first', via: ['example.org'] } },
    { roomId: '!e:example.org', originServerTs: 1640641000000, content: { via: ['example.org'] } },
    { roomId: '!d:example.org', originServerTs: 1640741000000, content: { via: ['example.org'] } },
  ];
  t.deepEqual(orderSpaceChildren(children).map((c) => c.roomId), ['!b:example.org', '!a:example.org', '!c:example.org', '!e:example.org', '!d:example.org']);
  const invalidOrder: SpaceChild[] = [
    { roomId: '!x:e', originServerTs: 2, content: { order: 'é', via: ['e'] } }, // outside 0x20-0x7E: as if absent
    { roomId: '!y:e', originServerTs: 3, content: { order: 'z'.repeat(51), via: ['e'] } }, // too long
    { roomId: '!w:e', originServerTs: 2, content: { via: ['e'] } },
    { roomId: '!v:e', originServerTs: 9, content: { order: 'm', via: ['e'] } },
  ];
  t.deepEqual(orderSpaceChildren(invalidOrder).map((c) => c.roomId), ['!v:e', '!w:e', '!x:e', '!y:e']);
  t.false(isValidSpaceChild({}));
  t.false(isValidSpaceChild({ via: [] }));
  t.false(isValidSpaceChild({ via: 'example.org' }));
  t.true(isValidSpaceChild({ via: ['example.org'] }));
});

/**
 * Home (space, public)
 *   ├─ Kitchen (public, order "b")
 *   ├─ Garage (invite-only: Bob is not in it; order "a")
 *   ├─ Upstairs (space, public, suggested, order "c")
 *   │    └─ Bedroom (public)
 *   ├─ Cellar (public, no via: not a child)
 *   └─ Attic (restricted to members of Upstairs)
 */
async function home(t: { teardown(fn: () => unknown): void }) {
  const s = await openRoomStack();
  t.teardown(() => s.close());
  const create = async (name: string, opts: Record<string, unknown> = {}) => {
    const res = await call(s, 'POST', `${V3}/createRoom`, ALICE, { name, preset: 'public_chat', ...opts });
    if (res.status !== 200) throw new Error(JSON.stringify(res.body));
    return res.body.room_id as string;
  };
  const space = { creation_content: { type: 'm.space' } };
  const homeId = await create('Home', space);
  const kitchen = await create('Kitchen');
  const garage = await create('Garage', { preset: 'private_chat' });
  const upstairs = await create('Upstairs', space);
  const bedroom = await create('Bedroom');
  const cellar = await create('Cellar');
  const attic = await create('Attic', {
    preset: 'private_chat',
    room_version: '10',
    initial_state: [{ type: 'm.room.join_rules', state_key: '', content: { join_rule: 'restricted', allow: [{ type: 'm.room_membership', room_id: upstairs }] } }],
  });
  const child = (parent: string, id: string, content: Record<string, unknown>) =>
    call(s, 'PUT', `${V3}/rooms/${encodeURIComponent(parent)}/state/m.space.child/${encodeURIComponent(id)}`, ALICE, content);
  await child(homeId, kitchen, { via: ['test.local'], order: 'b' });
  await child(homeId, garage, { via: ['test.local'], order: 'a' });
  await child(homeId, upstairs, { via: ['test.local'], order: 'c', suggested: true });
  await child(homeId, cellar, {});
  await child(homeId, attic, { via: ['test.local'] });
  await child(upstairs, bedroom, { via: ['test.local'] });
  const ids = { homeId, kitchen, garage, upstairs, bedroom, cellar, attic };
  const names = new Map(Object.entries(ids).map(([k, v]) => [v, k]));
  const hierarchy = async (user: string, query = '') => {
    const res = await call(s, 'GET', `${V1}/rooms/${encodeURIComponent(homeId)}/hierarchy${query}`, user);
    return { ...res, names: (res.body.rooms ?? []).map((r: any) => names.get(r.room_id)) };
  };
  return { s, ids, hierarchy };
}

test('depth first in the spec order; rooms the user may not see are left out, the restricted one appears once they qualify', async (t) => {
  const { s, ids, hierarchy } = await home(t);
  const alice = await hierarchy(ALICE);
  t.is(alice.status, 200);
  t.deepEqual(alice.names, ['homeId', 'garage', 'kitchen', 'upstairs', 'bedroom', 'attic'], 'Alice is in every room; the cellar has no via');
  const bob = await hierarchy(BOB);
  t.deepEqual(bob.names, ['homeId', 'kitchen', 'upstairs', 'bedroom'], 'no invite-only garage, no restricted attic for Bob');
  await call(s, 'POST', `${V3}/join/${encodeURIComponent(ids.upstairs)}`, BOB, {});
  t.deepEqual((await hierarchy(BOB)).names, ['homeId', 'kitchen', 'upstairs', 'bedroom', 'attic'], 'a member of Upstairs may join the attic');

  const root = alice.body.rooms[0];
  t.is(root.room_type, 'm.space');
  t.is(root.name, 'Home');
  t.is(root.join_rule, 'public');
  t.is(root.num_joined_members, 1);
  t.is(typeof root.room_version, 'string');
  t.deepEqual(
    root.children_state.map((c: any) => [c.type, c.state_key, c.content.order, c.sender, typeof c.origin_server_ts]),
    [
      ['m.space.child', ids.garage, 'a', ALICE, 'number'],
      ['m.space.child', ids.kitchen, 'b', ALICE, 'number'],
      ['m.space.child', ids.upstairs, 'c', ALICE, 'number'],
      ['m.space.child', ids.attic, undefined, ALICE, 'number'],
    ],
  );
  const attic = alice.body.rooms.find((r: any) => r.room_id === ids.attic);
  t.deepEqual(attic.allowed_room_ids, [ids.upstairs]);
  t.is(attic.join_rule, 'restricted');
  t.deepEqual(alice.body.rooms.find((r: any) => r.room_id === ids.kitchen).children_state, []);
});

test('max_depth, suggested_only and pages that keep their parameters', async (t) => {
  const { hierarchy } = await home(t);
  t.deepEqual((await hierarchy(ALICE, '?max_depth=0')).names, ['homeId']);
  t.deepEqual((await hierarchy(ALICE, '?max_depth=1')).names, ['homeId', 'garage', 'kitchen', 'upstairs', 'attic']);
  t.deepEqual((await hierarchy(ALICE, '?suggested_only=true')).names, ['homeId', 'upstairs'], 'the bedroom is not a suggested child of Upstairs');

  const seen: string[] = [];
  let from: string | undefined;
  let pages = 0;
  do {
    const page = await hierarchy(ALICE, `?limit=2${from ? `&from=${encodeURIComponent(from)}` : ''}`);
    t.is(page.status, 200);
    t.true(page.names.length <= 2);
    seen.push(...page.names);
    from = page.body.next_batch;
    pages++;
  } while (from && pages < 10);
  t.deepEqual(seen, ['homeId', 'garage', 'kitchen', 'upstairs', 'bedroom', 'attic']);
  t.is(pages, 3);

  const first = await hierarchy(ALICE, '?limit=2');
  const changed = await hierarchy(ALICE, `?limit=2&max_depth=1&from=${encodeURIComponent(first.body.next_batch)}`);
  t.is(changed.status, 400);
  t.is(changed.body.errcode, 'M_INVALID_PARAM');
});

test('bad input and rooms the user may not preview', async (t) => {
  const { s, ids, hierarchy } = await home(t);
  for (const query of ['?limit=0', '?limit=x', '?max_depth=-1', '?suggested_only=maybe', '?from=garbage']) {
    const res = await hierarchy(ALICE, query);
    t.is(res.status, 400, query);
    t.is(res.body.errcode, 'M_INVALID_PARAM', query);
  }
  const garage = await call(s, 'GET', `${V1}/rooms/${encodeURIComponent(ids.garage)}/hierarchy`, BOB);
  t.is(garage.status, 403);
  t.is(garage.body.errcode, 'M_FORBIDDEN');
  const unknown = await call(s, 'GET', `${V1}/rooms/${encodeURIComponent('!nope:test.local')}/hierarchy`, BOB);
  t.is(unknown.status, 403);
  t.is((await call(s, 'GET', `${V1}/rooms/${encodeURIComponent(ids.homeId)}/hierarchy`, undefined)).status, 401);
});
