/**
 * Push rule evaluation (client-server-api modules/push.md "Push Rules"): which rule of a user's
 * ruleset decides an event, and what its actions mean. Pure, no I/O: the caller supplies the
 * ruleset and the room facts the conditions need ({@link PushConditionContext}).
 */
import type { Json, JsonObject } from '../core/types.js';
import type { PushRule, PushRuleset } from '../accounts/push-rules-defaults.js';
import { compileBodyPattern, compileCondition, type CompiledCondition, type PushConditionContext } from './conditions.js';

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

/** One enabled rule, ready to test: its conditions compiled and its actions interpreted. */
interface CompiledRule {
  ruleId: string;
  matches: CompiledCondition;
  outcome: Omit<PushOutcome, 'ruleId'>;
}

/**
 * A ruleset compiled for evaluation: parse once, evaluate many times. The unread counts evaluate
 * every persisted event against every local member's rules inside the room lock, and parsing globs
 * and paths per event cost about a tenth of a send (docs/performance.md). Compile again when the
 * ruleset changes.
 */
export class CompiledPushRules {
  private readonly rules: CompiledRule[] = [];

  /** 2. Kinds in order override, content, room, sender, underride; within a kind, list order. Disabled rules never match. */
  constructor(ruleset: PushRuleset) {
    for (const kind of KIND_ORDER) {
      for (const rule of ruleset[kind]) {
        if (!rule.enabled) continue;
        const matches = compileRule(kind, rule);
        if (matches) this.rules.push({ ruleId: rule.rule_id, matches, outcome: interpretActions(rule.actions) });
      }
    }
  }

  /**
   * The outcome for `event` (an event in client format: `type`, `sender`, `room_id`, `content`,
   * `state_key`, `event_id`):
   * 1. Events the user sent themselves never notify ("Homeservers MUST NOT notify ... for events
   *    that the user has sent themselves").
   * 3. The first matching rule decides: its actions are interpreted by {@link interpretActions}.
   * 4. No matching rule: no notification.
   */
  evaluate(event: JsonObject, ctx: PushConditionContext): PushOutcome {
    // 1.
    if (event.sender === ctx.userId) return noNotification();
    // 3.
    for (const rule of this.rules) {
      if (rule.matches(event, ctx)) return { ruleId: rule.ruleId, ...rule.outcome, tweaks: { ...rule.outcome.tweaks } };
    }
    // 4.
    return noNotification();
  }
}

/** The outcome of `ruleset` for `event`, for a single evaluation ({@link CompiledPushRules} for many). */
export function evaluatePushRules(ruleset: PushRuleset, event: JsonObject, ctx: PushConditionContext): PushOutcome {
  return new CompiledPushRules(ruleset).evaluate(event, ctx);
}

/**
 * A rule's test, by kind, or undefined when it can never match:
 * - override and underride: every condition holds (no conditions: always);
 * - content: `pattern` matches a word-bounded part of `content.body`;
 * - room: the rule id is the event's room; sender: the rule id is the event's sender.
 */
function compileRule(kind: (typeof KIND_ORDER)[number], rule: PushRule): CompiledCondition | undefined {
  switch (kind) {
    case 'override':
    case 'underride': {
      const conditions = (rule.conditions ?? []).map(compileCondition);
      return (event, ctx) => conditions.every((c) => c(event, ctx));
    }
    case 'content': {
      return typeof rule.pattern === 'string' ? compileBodyPattern(rule.pattern) : undefined;
    }
    case 'room':
      return (event) => rule.rule_id === event.room_id;
    case 'sender':
      return (event) => rule.rule_id === event.sender;
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
