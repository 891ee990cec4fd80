/**
 * The server-default push rules (modules/push.md "Predefined Rules"), in the spec's order, with the
 * user's id and localpart filled in.
 *
 * The three legacy body-matching rules (`.m.rule.contains_display_name`, `.m.rule.roomnotif`,
 * `.m.rule.contains_user_name`) were removed in v1.17; they are kept because the versions we
 * advertise (v1.1-v1.12, api/client/versions.ts) define them and clients that do not send
 * `m.mentions` rely on them. They sit where v1.16 placed them.
 */
import type { JsonObject } from '../core/types.js';
import type { PushRuleKind } from '../storage/push-rules.js';

export interface PushRule {
  rule_id: string;
  default: boolean;
  enabled: boolean;
  actions: unknown[];
  conditions?: JsonObject[];
  pattern?: string;
}

export type PushRuleset = Record<PushRuleKind, PushRule[]>;

const SOUND_DEFAULT = { set_tweak: 'sound', value: 'default' };
const HIGHLIGHT = { set_tweak: 'highlight' };

function rule(rule_id: string, conditions: JsonObject[], actions: unknown[], enabled = true): PushRule {
  return { rule_id, default: true, enabled, conditions, actions };
}

const eventMatch = (key: string, pattern: string): JsonObject => ({ kind: 'event_match', key, pattern });

export function defaultPushRules(userId: string, localpart: string): PushRuleset {
  return {
    override: [
      rule('.m.rule.master', [], [], false),
      rule('.m.rule.suppress_notices', [eventMatch('content.msgtype', 'm.notice')], []),
      rule(
        '.m.rule.invite_for_me',
        [eventMatch('type', 'm.room.member'), eventMatch('content.membership', 'invite'), eventMatch('state_key', userId)],
        ['notify', SOUND_DEFAULT],
      ),
      rule('.m.rule.member_event', [eventMatch('type', 'm.room.member')], []),
      rule(
        '.m.rule.is_user_mention',
        [{ kind: 'event_property_contains', key: 'content.m\\.mentions.user_ids', value: userId }],
        ['notify', SOUND_DEFAULT, HIGHLIGHT],
      ),
      rule('.m.rule.contains_display_name', [{ kind: 'contains_display_name' }], ['notify', SOUND_DEFAULT, HIGHLIGHT]),
      rule(
        '.m.rule.is_room_mention',
        [
          { kind: 'event_property_is', key: 'content.m\\.mentions.room', value: true },
          { kind: 'sender_notification_permission', key: 'room' },
        ],
        ['notify', HIGHLIGHT],
      ),
      rule(
        '.m.rule.roomnotif',
        [eventMatch('content.body', '@room'), { kind: 'sender_notification_permission', key: 'room' }],
        ['notify', HIGHLIGHT],
      ),
      rule('.m.rule.tombstone', [eventMatch('type', 'm.room.tombstone'), eventMatch('state_key', '')], ['notify', HIGHLIGHT]),
      rule('.m.rule.reaction', [eventMatch('type', 'm.reaction')], []),
      rule('.m.rule.room.server_acl', [eventMatch('type', 'm.room.server_acl'), eventMatch('state_key', '')], []),
      rule('.m.rule.suppress_edits', [{ kind: 'event_property_is', key: 'content.m\\.relates_to.rel_type', value: 'm.replace' }], []),
    ],
    content: [
      {
        rule_id: '.m.rule.contains_user_name',
        default: true,
        enabled: true,
        pattern: localpart,
        actions: ['notify', SOUND_DEFAULT, HIGHLIGHT],
      },
    ],
    room: [],
    sender: [],
    underride: [
      rule('.m.rule.call', [eventMatch('type', 'm.call.invite')], ['notify', { set_tweak: 'sound', value: 'ring' }]),
      rule(
        '.m.rule.encrypted_room_one_to_one',
        [{ kind: 'room_member_count', is: '2' }, eventMatch('type', 'm.room.encrypted')],
        ['notify', SOUND_DEFAULT],
      ),
      rule(
        '.m.rule.room_one_to_one',
        [{ kind: 'room_member_count', is: '2' }, eventMatch('type', 'm.room.message')],
        ['notify', SOUND_DEFAULT],
      ),
      rule('.m.rule.message', [eventMatch('type', 'm.room.message')], ['notify']),
      rule('.m.rule.encrypted', [eventMatch('type', 'm.room.encrypted')], ['notify']),
    ],
  };
}
