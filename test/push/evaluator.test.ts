import test from 'ava';
import type { JsonObject } from '../../src/core/types.js';
import { defaultPushRules, type PushRuleset } from '../../src/accounts/push-rules-defaults.js';
import { CompiledPushRules, evaluatePushRules, interpretActions, type PushConditionContext } from '../../src/push/evaluator.js';
import { conditionMatches, globMatchesWhole, globMatchesWords, propertyAt, splitPropertyPath } from '../../src/push/conditions.js';

const BOB = '@bob:test.local';
const ALICE = '@alice:test.local';
const ROOM = '!room:test.local';

const rules = (): PushRuleset => defaultPushRules(BOB, 'bob');

function ctx(over: Partial<PushConditionContext> = {}): PushConditionContext {
  return { userId: BOB, memberCount: 3, senderPowerLevel: 0, notificationLevel: (key) => (key === 'room' ? 50 : Infinity), ...over };
}

function message(body: string, extra: JsonObject = {}, sender = ALICE): JsonObject {
  return { type: 'm.room.message', sender, room_id: ROOM, event_id: '$e', content: { msgtype: 'm.text', body, ...extra } };
}

test('a plain message in a group room notifies without highlight (.m.rule.message)', (t) => {
  const out = evaluatePushRules(rules(), message('hello'), ctx());
  t.is(out.ruleId, '.m.rule.message');
  t.true(out.notify);
  t.false(out.highlight);
});

test('a plain message in a 1:1 room notifies with sound (.m.rule.room_one_to_one)', (t) => {
  const out = evaluatePushRules(rules(), message('hello'), ctx({ memberCount: 2 }));
  t.is(out.ruleId, '.m.rule.room_one_to_one');
  t.true(out.notify);
  t.false(out.highlight);
  t.is(out.tweaks.sound, 'default');
});

test('an m.mentions mention of the user highlights', (t) => {
  const out = evaluatePushRules(rules(), message('hi', { 'm.mentions': { user_ids: [BOB] } }), ctx());
  t.is(out.ruleId, '.m.rule.is_user_mention');
  t.true(out.notify);
  t.true(out.highlight);
});

test('a body mention of the localpart or display name highlights (legacy rules)', (t) => {
  t.is(evaluatePushRules(rules(), message('ping Bob, please'), ctx()).ruleId, '.m.rule.contains_user_name');
  const byName = evaluatePushRules(rules(), message('Robert: lunch?'), ctx({ displayName: 'Robert' }));
  t.is(byName.ruleId, '.m.rule.contains_display_name');
  t.true(byName.highlight);
  // Word boundaries: "bobcat" does not mention bob.
  t.is(evaluatePushRules(rules(), message('a bobcat'), ctx()).ruleId, '.m.rule.message');
});

test('own messages never notify', (t) => {
  const out = evaluatePushRules(rules(), message('hello @bob', { 'm.mentions': { user_ids: [BOB] } }, BOB), ctx({ memberCount: 2 }));
  t.false(out.notify);
  t.is(out.ruleId, undefined);
});

test('m.notice messages are suppressed', (t) => {
  const out = evaluatePushRules(rules(), message('sensor report', { msgtype: 'm.notice' }), ctx({ memberCount: 2 }));
  t.is(out.ruleId, '.m.rule.suppress_notices');
  t.false(out.notify);
});

test('member events do not notify, except an invite of the user', (t) => {
  const join: JsonObject = { type: 'm.room.member', sender: ALICE, state_key: ALICE, room_id: ROOM, content: { membership: 'join' } };
  t.is(evaluatePushRules(rules(), join, ctx()).ruleId, '.m.rule.member_event');
  t.false(evaluatePushRules(rules(), join, ctx()).notify);
  const invite: JsonObject = { type: 'm.room.member', sender: ALICE, state_key: BOB, room_id: ROOM, content: { membership: 'invite' } };
  t.true(evaluatePushRules(rules(), invite, ctx()).notify);
});

test('an enabled master rule silences everything; a disabled one (the default) silences nothing', (t) => {
  const silenced = rules();
  silenced.override[0] = { ...silenced.override[0]!, enabled: true };
  for (const ev of [message('hello'), message('hi', { 'm.mentions': { user_ids: [BOB] } })]) {
    const out = evaluatePushRules(silenced, ev, ctx({ memberCount: 2 }));
    t.is(out.ruleId, '.m.rule.master');
    t.false(out.notify);
  }
  t.true(evaluatePushRules(rules(), message('hello'), ctx()).notify);
});

test('@room needs the notification power level of the sender', (t) => {
  const roomMention = message('@room fire drill', { 'm.mentions': { room: true } });
  t.is(evaluatePushRules(rules(), roomMention, ctx({ senderPowerLevel: 0 })).ruleId, '.m.rule.message');
  const allowed = evaluatePushRules(rules(), roomMention, ctx({ senderPowerLevel: 50 }));
  t.is(allowed.ruleId, '.m.rule.is_room_mention');
  t.true(allowed.highlight);
});

test('kinds are checked in order; room and sender rules match by rule id; disabled rules never match', (t) => {
  const rs = rules();
  rs.room.push({ rule_id: ROOM, default: false, enabled: true, actions: [] });
  t.is(evaluatePushRules(rs, message('hello'), ctx()).ruleId, ROOM, 'room rule before the underride message rule');
  rs.sender.push({ rule_id: ALICE, default: false, enabled: true, actions: ['notify', { set_tweak: 'highlight' }] });
  t.is(evaluatePushRules(rs, message('hello'), ctx()).ruleId, ROOM, 'room rules come before sender rules');
  rs.room[0]!.enabled = false;
  const bySender = evaluatePushRules(rs, message('hello'), ctx());
  t.is(bySender.ruleId, ALICE);
  t.true(bySender.highlight);
  // A content rule with a glob pattern, before room and sender rules.
  rs.content.unshift({ rule_id: 'tea', default: false, enabled: true, pattern: 't?a*', actions: ['notify'] });
  t.is(evaluatePushRules(rs, message('time for TEAtime'), ctx()).ruleId, 'tea');
});

test('legacy dont_notify and coalesce are no-ops; highlight without value is true', (t) => {
  t.deepEqual(interpretActions(['dont_notify']), { notify: false, highlight: false, tweaks: {} });
  t.deepEqual(interpretActions(['notify', 'coalesce', { set_tweak: 'highlight' }]), { notify: true, highlight: true, tweaks: { highlight: true } });
  t.false(interpretActions(['notify', { set_tweak: 'highlight', value: false }]).highlight);
  t.false(interpretActions([{ set_tweak: 'highlight' }]).highlight, 'a highlight only counts on a notifying event');
});

test('property paths: escaped dots and backslashes', (t) => {
  t.deepEqual(splitPropertyPath('content.m\\.relates_to.rel_type'), ['content', 'm.relates_to', 'rel_type']);
  t.deepEqual(splitPropertyPath('content.m\\\\foo'), ['content', 'm\\foo']);
  t.deepEqual(splitPropertyPath('content.a\\xb'), ['content', 'a\\xb']);
  const ev: JsonObject = { content: { 'm.relates_to': { rel_type: 'm.replace' }, 'm\\foo': 1 } };
  t.is(propertyAt(ev, 'content.m\\.relates_to.rel_type'), 'm.replace');
  t.is(propertyAt(ev, 'content.m\\\\foo'), 1);
  t.is(propertyAt(ev, 'content.missing.deeper'), undefined);
});

test('globs: whole-value and word-bounded matches (appendices examples)', (t) => {
  t.true(globMatchesWhole('lunc?*', 'Lunch plans'));
  t.true(globMatchesWhole('lunc?*', 'LUNCH'));
  t.false(globMatchesWhole('lunc?*', ' lunch'));
  t.false(globMatchesWhole('lunc?*', 'lunc'));
  t.true(globMatchesWhole('a.b', 'A.B'));
  t.false(globMatchesWhole('a.b', 'axb'), 'regex characters are literal');
  t.true(globMatchesWords('ex*ple', 'An example event.'));
  t.true(globMatchesWords('ex*ple', 'exple'));
  t.true(globMatchesWords('ex*ple', 'An exciting triple-whammy'));
  t.false(globMatchesWords('ex*ple', 'Anexample'));
});

test('conditions: event_match needs a string, property_is and property_contains compare exactly', (t) => {
  const ev: JsonObject = { type: 'm.room.create', content: { 'm.federate': true, topic: null, alt_aliases: ['#a:x', '#b:y'] } };
  const c = ctx();
  t.false(conditionMatches({ kind: 'event_match', key: 'content.topic', pattern: '*' }, ev, c));
  t.true(conditionMatches({ kind: 'event_property_is', key: 'content.m\\.federate', value: true }, ev, c));
  t.false(conditionMatches({ kind: 'event_property_is', key: 'content.m\\.federate', value: 'true' }, ev, c));
  t.true(conditionMatches({ kind: 'event_property_is', key: 'content.topic', value: null }, ev, c));
  t.true(conditionMatches({ kind: 'event_property_contains', key: 'content.alt_aliases', value: '#b:y' }, ev, c));
  t.false(conditionMatches({ kind: 'event_property_contains', key: 'content.alt_aliases', value: ':y' }, ev, c));
  t.false(conditionMatches({ kind: 'unknown_kind' }, ev, c), 'unrecognised conditions never match');
});

test('room_member_count operators', (t) => {
  const ev: JsonObject = { type: 'm.room.message', content: {} };
  const at = (is: string, memberCount: number) => conditionMatches({ kind: 'room_member_count', is }, ev, ctx({ memberCount }));
  t.true(at('2', 2));
  t.true(at('==2', 2));
  t.false(at('2', 3));
  t.true(at('<3', 2));
  t.false(at('<2', 2));
  t.true(at('<=2', 2));
  t.true(at('>2', 3));
  t.true(at('>=3', 3));
  t.false(at('>=4', 3));
  t.false(at('~2', 2), 'an unknown operator never matches');
});

test('a compiled ruleset answers for many recipients and display names, as a fresh evaluation does', (t) => {
  const userIds = Array.from({ length: 300 }, (_, i) => `@user${i}:example.org`);
  for (const userId of userIds) {
    const name = `Name ${userId.slice(1, 8)} ${userId.length}`;
    const rules = new CompiledPushRules(defaultPushRules(userId, userId.slice(1).split(':')[0]!));
    const mention: JsonObject = { type: 'm.room.message', sender: '@other:example.org', room_id: '!r:example.org', content: { msgtype: 'm.text', body: `hello ${name}!` } };
    const plain: JsonObject = { ...mention, content: { msgtype: 'm.text', body: 'hello nobody' } };
    const ctx: PushConditionContext = { userId, displayName: name, memberCount: 3, senderPowerLevel: 0, notificationLevel: () => 50 };
    for (let round = 0; round < 2; round++) {
      t.like(rules.evaluate(mention, ctx), { ruleId: '.m.rule.contains_display_name', notify: true, highlight: true });
      t.like(rules.evaluate(plain, ctx), { ruleId: '.m.rule.message', notify: true, highlight: false });
      t.deepEqual(rules.evaluate(mention, ctx), evaluatePushRules(defaultPushRules(userId, userId.slice(1).split(':')[0]!), mention, ctx));
    }
  }
});
