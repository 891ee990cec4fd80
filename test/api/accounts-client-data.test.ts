import test from 'ava';
import { startHarness } from '../accounts/harness.js';

const ROOM = '!room:hearth.test';

test('account data: global and per-room round trip, private to its owner', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const me = await h.user('ada');
  const other = await h.user('ben');
  const url = `/_matrix/client/v3/user/${me.userId}/account_data/org.example.settings`;
  t.is((await h.call('GET', url, { token: me.token })).body.errcode, 'M_NOT_FOUND');
  t.is((await h.call('PUT', url, { token: me.token, body: { theme: 'dark', n: 3 } })).status, 200);
  t.deepEqual((await h.call('GET', url, { token: me.token })).body, { theme: 'dark', n: 3 });
  t.is((await h.call('GET', url, { token: other.token })).status, 403);
  t.is((await h.call('PUT', url, { token: other.token, body: {} })).status, 403);

  const roomUrl = `/_matrix/client/v3/user/${me.userId}/rooms/${encodeURIComponent(ROOM)}/account_data/m.tag`;
  await h.call('PUT', roomUrl, { token: me.token, body: { tags: { 'm.favourite': { order: 0.5 } } } });
  t.deepEqual((await h.call('GET', roomUrl, { token: me.token })).body, { tags: { 'm.favourite': { order: 0.5 } } });

  const managed = await h.call('PUT', `/_matrix/client/v3/user/${me.userId}/account_data/m.push_rules`, { token: me.token, body: {} });
  t.is(managed.status, 405);
  t.is(managed.body.errcode, 'M_BAD_JSON');
  const notObject = await h.call('PUT', url, { token: me.token, body: [1, 2] });
  t.is(notObject.status, 400);

  // What /sync reads: everything at first, then only what changed after a position.
  const all = await h.accountData.accountDataSince(me.userId, undefined, h.notifier.position);
  t.deepEqual(all.global.map((e) => e.type).sort(), ['m.push_rules', 'org.example.settings']);
  t.deepEqual(all.rooms.get(ROOM), [{ type: 'm.tag', content: { tags: { 'm.favourite': { order: 0.5 } } } }]);
  const mark = h.notifier.position;
  await h.call('PUT', url, { token: me.token, body: { theme: 'light' } });
  const since = await h.accountData.accountDataSince(me.userId, mark, h.notifier.position);
  t.deepEqual(since.global, [{ type: 'org.example.settings', content: { theme: 'light' } }]);
  t.is(since.rooms.size, 0);
  const othersView = await h.accountData.accountDataSince(other.userId, mark, h.notifier.position);
  t.deepEqual(othersView.global, []);
});

test('filters: create, read back, same filter same id, invalid rejected', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const me = await h.user('cy');
  const other = await h.user('di');
  const filter = { room: { timeline: { limit: 20, types: ['m.room.message'] } }, presence: { not_types: ['*'] } };
  const created = await h.call('POST', `/_matrix/client/v3/user/${me.userId}/filter`, { token: me.token, body: filter });
  t.is(created.status, 200);
  const id = created.body.filter_id;
  t.is(typeof id, 'string');
  t.false(id.startsWith('{'));
  t.deepEqual((await h.call('GET', `/_matrix/client/v3/user/${me.userId}/filter/${id}`, { token: me.token })).body, filter);
  t.deepEqual(await h.filters.getFilter(me.userId, id), filter);
  const again = await h.call('POST', `/_matrix/client/v3/user/${me.userId}/filter`, { token: me.token, body: filter });
  t.is(again.body.filter_id, id);
  t.is((await h.call('GET', `/_matrix/client/v3/user/${me.userId}/filter/${id}`, { token: other.token })).status, 403);
  t.is((await h.call('GET', `/_matrix/client/v3/user/${me.userId}/filter/unknown`, { token: me.token })).body.errcode, 'M_NOT_FOUND');
  const bad = await h.call('POST', `/_matrix/client/v3/user/${me.userId}/filter`, { token: me.token, body: { room: { timeline: { limit: -1 } } } });
  t.is(bad.status, 400);
  t.is(bad.body.errcode, 'M_BAD_JSON');
});

test('push rules: the default ruleset with the user substituted', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const me = await h.user('eli');
  const res = await h.call('GET', '/_matrix/client/v3/pushrules/', { token: me.token });
  t.is(res.status, 200);
  const { override, content, underride, room, sender } = res.body.global;
  t.deepEqual(
    override.map((r: { rule_id: string }) => r.rule_id),
    [
      '.m.rule.master',
      '.m.rule.suppress_notices',
      '.m.rule.invite_for_me',
      '.m.rule.member_event',
      '.m.rule.is_user_mention',
      '.m.rule.contains_display_name',
      '.m.rule.is_room_mention',
      '.m.rule.roomnotif',
      '.m.rule.tombstone',
      '.m.rule.reaction',
      '.m.rule.room.server_acl',
      '.m.rule.suppress_edits',
    ],
  );
  t.deepEqual(override[0], { rule_id: '.m.rule.master', default: true, enabled: false, conditions: [], actions: [] });
  t.deepEqual(override[2].conditions[2], { kind: 'event_match', key: 'state_key', pattern: me.userId });
  t.deepEqual(override[4], {
    rule_id: '.m.rule.is_user_mention',
    default: true,
    enabled: true,
    conditions: [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: me.userId }],
    actions: ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }],
  });
  t.deepEqual(content, [
    {
      rule_id: '.m.rule.contains_user_name',
      default: true,
      enabled: true,
      pattern: 'eli',
      actions: ['notify', { set_tweak: 'sound', value: 'default' }, { set_tweak: 'highlight' }],
    },
  ]);
  t.deepEqual(
    underride.map((r: { rule_id: string }) => r.rule_id),
    ['.m.rule.call', '.m.rule.encrypted_room_one_to_one', '.m.rule.room_one_to_one', '.m.rule.message', '.m.rule.encrypted'],
  );
  t.deepEqual(underride[0].actions, ['notify', { set_tweak: 'sound', value: 'ring' }]);
  t.deepEqual(underride[3], {
    rule_id: '.m.rule.message',
    default: true,
    enabled: true,
    conditions: [{ kind: 'event_match', key: 'type', pattern: 'm.room.message' }],
    actions: ['notify'],
  });
  t.deepEqual(room, []);
  t.deepEqual(sender, []);
  // Also served as m.push_rules account data, for sync clients.
  t.deepEqual(await h.accountData.get(me.userId, '', 'm.push_rules'), res.body);
});

test('push rules: custom rules, ordering, enabled and actions, deletion', async (t) => {
  const h = await startHarness();
  t.teardown(() => h.close());
  const me = await h.user('fox');
  const base = '/_matrix/client/v3/pushrules/global';
  const put = (path: string, body: unknown) => h.call('PUT', `${base}/${path}`, { token: me.token, body });

  t.is((await put('content/cake', { pattern: 'cake*', actions: ['notify'] })).status, 200);
  t.is((await put('content/pie', { pattern: 'pie', actions: [] })).status, 200);
  t.is((await put('content/tart?after=pie', { pattern: 'tart', actions: [] })).status, 200);
  t.is((await put('content/scone?before=cake', { pattern: 'scone', actions: [] })).status, 200);
  const contentIds = (await h.call('GET', `${base}/`, { token: me.token })).body.content.map((r: { rule_id: string }) => r.rule_id);
  t.deepEqual(contentIds, ['pie', 'tart', 'scone', 'cake', '.m.rule.contains_user_name']);

  // One kind's rules, with and without the trailing slash: the list in priority order.
  for (const path of [`${base}/content/`, `${base}/content`]) {
    const listed = await h.call('GET', path, { token: me.token });
    t.is(listed.status, 200, path);
    t.deepEqual(listed.body.map((r: { rule_id: string }) => r.rule_id), contentIds, path);
  }
  t.is((await h.call('GET', `${base}/nokind/`, { token: me.token })).status, 400);
  // A rule path with no rule id is refused as such.
  for (const method of ['PUT', 'DELETE'] as const) {
    const empty = await h.call(method, `${base}/content/`, { token: me.token, body: { pattern: 'x', actions: [] } });
    t.is(empty.status, 400, method);
    t.is(empty.body.errcode, 'M_UNRECOGNIZED', method);
  }
  // Invalid actions are refused, on a new rule and on an existing one's actions.
  t.is((await put('content/bad', { pattern: 'bad', actions: [42] })).status, 400);
  t.is((await put('content/bad', { pattern: 'bad', actions: [{ not_a_tweak: true }] })).status, 400);
  t.is((await put('content/pie/actions', { actions: ['notify', 7] })).status, 400);
  t.is((await h.call('GET', `${base}/content/bad`, { token: me.token })).status, 404, 'nothing stored for a refused rule');

  t.deepEqual((await h.call('GET', `${base}/content/cake`, { token: me.token })).body, {
    rule_id: 'cake',
    default: false,
    enabled: true,
    actions: ['notify'],
    pattern: 'cake*',
  });
  t.is((await put('content/.m.rule.mine', { pattern: 'x', actions: [] })).status, 400);
  t.is((await put('content/nopattern', { actions: [] })).status, 400);
  t.is((await put('content/x?before=.m.rule.contains_user_name', { pattern: 'x', actions: [] })).status, 400);
  t.is((await put('content/x?before=missing', { pattern: 'x', actions: [] })).status, 404);
  t.is((await put('wrongkind/x', { actions: [] })).status, 400);

  const roomRule = await put(`room/${encodeURIComponent('!quiet:hearth.test')}`, { actions: [] });
  t.is(roomRule.status, 200);
  t.deepEqual((await h.call('GET', `${base}/room/${encodeURIComponent('!quiet:hearth.test')}`, { token: me.token })).body, {
    rule_id: '!quiet:hearth.test',
    default: false,
    enabled: true,
    actions: [],
  });

  // Server-default rules can be disabled and their actions changed, not deleted.
  const mark = h.notifier.position;
  t.is((await put('override/.m.rule.master/enabled', { enabled: true })).status, 200);
  t.deepEqual((await h.call('GET', `${base}/override/.m.rule.master/enabled`, { token: me.token })).body, { enabled: true });
  t.is((await put('underride/.m.rule.message/actions', { actions: ['dont_notify'] })).status, 200);
  t.deepEqual((await h.call('GET', `${base}/underride/.m.rule.message/actions`, { token: me.token })).body, { actions: ['dont_notify'] });
  t.is((await h.call('DELETE', `${base}/underride/.m.rule.message`, { token: me.token })).status, 400);
  t.is((await put('override/.m.rule.nonexistent/enabled', { enabled: true })).status, 404);
  t.is((await put('content/cake/enabled', { enabled: false })).status, 200);
  t.false((await h.pushRules.getRule(me.userId, 'content', 'cake')).enabled);

  t.is((await h.call('DELETE', `${base}/content/cake`, { token: me.token })).status, 200);
  t.is((await h.call('GET', `${base}/content/cake`, { token: me.token })).status, 404);
  t.is((await h.call('DELETE', `${base}/content/cake`, { token: me.token })).status, 404);

  // Each change is an m.push_rules account data change for /sync.
  const since = await h.accountData.accountDataSince(me.userId, mark, h.notifier.position);
  t.is(since.global.length, 1);
  t.is(since.global[0]!.type, 'm.push_rules');
  const global = (since.global[0]!.content as { global: { override: Array<{ rule_id: string; enabled: boolean }> } }).global;
  t.deepEqual(global.override[0], { ...global.override[0], rule_id: '.m.rule.master', enabled: true });
});
