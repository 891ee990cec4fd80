/**
 * Push rule evaluation (client-server-api modules/push.md "Push Rules"): which rule of a user's
 * ruleset decides an event, and what its actions mean. Pure, no I/O: the caller supplies the
 * ruleset and the room facts the conditions need ({@link PushConditionContext}).
 */
import type { Json, JsonObject } from '../core/types.js';
import type { PushRule, PushRuleset } from '../accounts/push-rules-defaults.js';
import { conditionMatches, globMatchesWords, propertyAt, type PushConditionContext } from './conditions.js';

export type { PushConditionContext } from './conditions.js';

/** "The different kinds of rule, in the order that they are checked". */
const KIND_ORDER = ['override', 'content', 'room', 'sender', 'underride'] as const;

export interface PushOutcome {
  /** The rule that decided, or undefined when none matched. */
  ruleId: string | undefined;
  /** The `notify` action was present. */
  notify: boolean;
  /** The `highlight` tweak is true (and the event notifies). */
  highlight: boolean;
  /** Every `set_tweak` of the deciding rule, e.g. `{ sound: 'default', highlight: true }`. */
  tweaks: Record<string, Json>;
}

function noNotification(): PushOutcome {
  return { ruleId: undefined, notify: false, highlight: false, tweaks: {} };
}

/**
 * The outcome of `ruleset` for `event` (an event in client format: `type`, `sender`, `room_id`,
 * `content`, `state_key`, `event_id`):
 * 1. Events the user sent themselves never notify ("Homeservers MUST NOT notify ... for events that
 *    the user has sent themselves").
 * 2. Kinds are checked in order override, content, room, sender, underride; within a kind, in list
 *    order. Disabled rules never match.
 * 3. The first matching rule decides: its actions are interpreted by {@link interpretActions}.
 * 4. No matching rule: no notification.
 */
export function evaluatePushRules(ruleset: PushRuleset, event: JsonObject, ctx: PushConditionContext): PushOutcome {
  // 1.
  if (event.sender === ctx.userId) return noNotification();
  // 2.
  for (const kind of KIND_ORDER) {
    for (const rule of ruleset[kind]) {
      if (!rule.enabled) continue;
      // 3.
      if (ruleMatches(kind, rule, event, ctx)) return { ruleId: rule.rule_id, ...interpretActions(rule.actions) };
    }
  }
  // 4.
  return noNotification();
}

/**
 * Whether a rule matches, by kind:
 * - override and underride: every condition holds (no conditions: always);
 * - content: `pattern` matches a word-bounded part of `content.body`;
 * - room: the rule id is the event's room; sender: the rule id is the event's sender.
 */
function ruleMatches(kind: (typeof KIND_ORDER)[number], rule: PushRule, event: JsonObject, ctx: PushConditionContext): boolean {
  switch (kind) {
    case 'override':
    case 'underride':
      return (rule.conditions ?? []).every((c) => conditionMatches(c, event, ctx));
    case 'content': {
      const body = propertyAt(event, 'content.body');
      return typeof rule.pattern === 'string' && typeof body === 'string' && globMatchesWords(rule.pattern, body);
    }
    case 'room':
      return rule.rule_id === event.room_id;
    case 'sender':
      return rule.rule_id === event.sender;
  }
}

/**
 * Actions ("Actions"): `notify` notifies; `{ set_tweak, value? }` sets a tweak, `highlight` without
 * a value meaning true. The historical `dont_notify` and `coalesce` are ignored ("Historical
 * Actions"), as is anything unknown. A highlight only counts on an event that notifies.
 */
export function interpretActions(actions: readonly unknown[]): Omit<PushOutcome, 'ruleId'> {
  let notify = false;
  const tweaks: Record<string, Json> = {};
  for (const action of actions) {
    if (action === 'notify') {
      notify = true;
    } else if (isTweak(action)) {
      tweaks[action.set_tweak] = action.value === undefined && action.set_tweak === 'highlight' ? true : (action.value ?? null);
    }
  }
  return { notify, highlight: notify && tweaks.highlight === true, tweaks };
}

function isTweak(action: unknown): action is { set_tweak: string; value?: Json } {
  return typeof action === 'object' && action !== null && typeof (action as { set_tweak?: unknown }).set_tweak === 'string';
}
