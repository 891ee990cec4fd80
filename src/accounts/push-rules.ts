/**
 * Push rules (modules/push.md "Push Rules", "Push Rules: API"): the server-default rules merged
 * with each user's own rules and changes. Every change is also an `m.push_rules` account data
 * change ("Push Rules: Events"), recorded on the side stream so `/sync` delivers it.
 */
import type { JsonObject } from '../core/types.js';
import { parseUserId } from '../core/identifiers.js';
import { ErrCode, MatrixError, badJson, notFound } from '../core/errors.js';
import type { StreamNotifier } from '../stream/notifier.js';
import type { BatchOp, Database } from '../storage/db.js';
import { PushRuleStore, type PushRuleKind, type PushRuleOverrides, type UserPushRule } from '../storage/push-rules.js';
import { SideStreamStore } from '../stream/side-stream.js';
import { KeyedLock } from '../util/keyed-lock.js';
import { defaultPushRules, type PushRule, type PushRuleset } from './push-rules-defaults.js';

export type { PushRuleKind } from '../storage/push-rules.js';
export type { PushRule, PushRuleset } from './push-rules-defaults.js';

const PUSH_RULE_KINDS: readonly PushRuleKind[] = ['override', 'content', 'room', 'sender', 'underride'];

export function isPushRuleKind(kind: string): kind is PushRuleKind {
  return (PUSH_RULE_KINDS as readonly string[]).includes(kind);
}

/** The body of PUT /pushrules/global/{kind}/{ruleId}. */
export interface PushRuleInput {
  actions: unknown[];
  conditions?: JsonObject[];
  pattern?: string;
}

export class PushRulesService {
  private readonly store: PushRuleStore;
  private readonly sideStream: SideStreamStore;
  private readonly lock = new KeyedLock();
  private readonly listeners = new Set<(userId: string) => void>();

  constructor(
    private readonly db: Database,
    private readonly notifier: StreamNotifier,
  ) {
    this.store = new PushRuleStore(db);
    this.sideStream = new SideStreamStore(db);
  }

  /**
   * The user's whole ruleset, the content of GET /pushrules/ and of `m.push_rules`. Within each
   * kind user-defined rules come before server-default ones, except `.m.rule.master`, which is
   * always first ("Predefined Rules").
   */
  async pushRulesFor(userId: string): Promise<{ global: PushRuleset }> {
    return { global: this.assemble(userId, await this.store.get(userId)) };
  }

  /** Calls `listener` after each change of a user's rules is written (caches of rulesets drop theirs). */
  onChange(listener: (userId: string) => void): void {
    this.listeners.add(listener);
  }

  async getRule(userId: string, kind: PushRuleKind, ruleId: string): Promise<PushRule> {
    const rule = (await this.pushRulesFor(userId)).global[kind].find((r) => r.rule_id === ruleId);
    if (!rule) throw notFound('Unknown push rule');
    return rule;
  }

  /**
   * Adds or replaces a user-defined rule ("PUT /pushrules/global/{kind}/{ruleId}"):
   * 1. Ids starting with "." are reserved for server-default rules; "/" and "\" are not allowed.
   * 2. The body must fit the kind: `pattern` for content rules, `conditions` for override/underride.
   * 3. `before`/`after` must name a user-defined rule of the same kind.
   * 4. An existing rule keeps its place (and enabled flag) unless `before`/`after` moves it; a new
   *    rule is enabled and goes first among user-defined rules.
   */
  async putRule(
    userId: string,
    kind: PushRuleKind,
    ruleId: string,
    input: PushRuleInput,
    position: { before?: string; after?: string } = {},
  ): Promise<void> {
    // 1.
    if (ruleId.startsWith('.')) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Rule ids starting with "." are reserved');
    if (/[/\\]/.test(ruleId) || ruleId === '') throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Invalid rule id');
    // 2.
    const rule = buildUserRule(kind, ruleId, input);
    await this.change(userId, (overrides) => {
      const list = overrides.custom[kind];
      const existingIndex = list.findIndex((r) => r.rule_id === ruleId);
      const existing = existingIndex >= 0 ? list[existingIndex] : undefined;
      const updated: UserPushRule = { ...rule, enabled: existing?.enabled ?? true };
      // 3.
      for (const anchor of [position.before, position.after]) {
        if (anchor === undefined) continue;
        if (anchor.startsWith('.')) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Cannot place a rule relative to a server-default rule');
        if (!list.some((r) => r.rule_id === anchor)) throw notFound(`Unknown rule ${anchor}`);
      }
      // 4.
      if (position.before === undefined && position.after === undefined && existing) {
        list[existingIndex] = updated;
        return;
      }
      if (existing) list.splice(existingIndex, 1);
      if (position.before !== undefined) {
        list.splice(list.findIndex((r) => r.rule_id === position.before), 0, updated);
      } else if (position.after !== undefined) {
        list.splice(list.findIndex((r) => r.rule_id === position.after) + 1, 0, updated);
      } else {
        list.unshift(updated);
      }
    });
  }

  /** Deletes a user-defined rule; server-default rules cannot be deleted, only disabled. */
  async deleteRule(userId: string, kind: PushRuleKind, ruleId: string): Promise<void> {
    if (ruleId.startsWith('.')) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Server-default rules cannot be deleted');
    await this.change(userId, (overrides) => {
      const list = overrides.custom[kind];
      const index = list.findIndex((r) => r.rule_id === ruleId);
      if (index < 0) throw notFound('Unknown push rule');
      list.splice(index, 1);
    });
  }

  async setEnabled(userId: string, kind: PushRuleKind, ruleId: string, enabled: boolean): Promise<void> {
    await this.changeRule(userId, kind, ruleId, { enabled });
  }

  async setActions(userId: string, kind: PushRuleKind, ruleId: string, actions: unknown[]): Promise<void> {
    validateActions(actions);
    await this.changeRule(userId, kind, ruleId, { actions });
  }

  private async changeRule(userId: string, kind: PushRuleKind, ruleId: string, change: { enabled?: boolean; actions?: unknown[] }): Promise<void> {
    await this.change(userId, (overrides) => {
      if (ruleId.startsWith('.')) {
        if (!defaultRuleExists(kind, ruleId)) throw notFound('Unknown push rule');
        overrides.defaults[ruleId] = { ...overrides.defaults[ruleId], ...change };
        return;
      }
      const rule = overrides.custom[kind].find((r) => r.rule_id === ruleId);
      if (!rule) throw notFound('Unknown push rule');
      Object.assign(rule, change);
    });
  }

  /** Applies a change under the user's lock and stores it with its `m.push_rules` side-stream entry. */
  private async change(userId: string, mutate: (overrides: PushRuleOverrides) => void): Promise<void> {
    await this.lock.run(userId, async () => {
      const overrides = await this.store.get(userId);
      mutate(overrides);
      const ops: BatchOp[] = [];
      const position = this.notifier.reserve();
      try {
        this.store.putTxn(ops, userId, overrides);
        this.sideStream.appendTxn(ops, position, { kind: 'account_data', userId, roomId: '', type: 'm.push_rules' });
        await this.db.write(ops);
        for (const listener of this.listeners) listener(userId);
      } finally {
        this.notifier.settle(position);
      }
    });
  }

  private assemble(userId: string, overrides: PushRuleOverrides): PushRuleset {
    const localpart = parseUserId(userId)?.localpart ?? userId;
    const defaults = defaultPushRules(userId, localpart);
    const withChanges = (r: PushRule): PushRule => ({ ...r, ...overrides.defaults[r.rule_id] });
    const user = (kind: PushRuleKind): PushRule[] => overrides.custom[kind].map((r) => ({ ...r, default: false }));
    const [master, ...otherOverrides] = defaults.override.map(withChanges);
    return {
      override: [master!, ...user('override'), ...otherOverrides],
      content: [...user('content'), ...defaults.content.map(withChanges)],
      room: user('room'),
      sender: user('sender'),
      underride: [...user('underride'), ...defaults.underride.map(withChanges)],
    };
  }
}

function defaultRuleExists(kind: PushRuleKind, ruleId: string): boolean {
  return defaultPushRules('@x:x', 'x')[kind].some((r) => r.rule_id === ruleId);
}

function validateActions(actions: unknown): asserts actions is unknown[] {
  if (!Array.isArray(actions)) throw badJson('actions must be a list');
  for (const a of actions) {
    if (typeof a === 'string') continue;
    if (a !== null && typeof a === 'object' && !Array.isArray(a) && typeof (a as { set_tweak?: unknown }).set_tweak === 'string') continue;
    throw badJson('Each action must be a string or a set_tweak object');
  }
}

/**
 * The stored form of a user rule. Room and sender rules carry no conditions in the API: their
 * rule id is the room or sender they match (modules/push.md "Push Rules").
 */
function buildUserRule(kind: PushRuleKind, ruleId: string, input: PushRuleInput): UserPushRule {
  validateActions(input.actions);
  const rule: UserPushRule = { rule_id: ruleId, enabled: true, actions: input.actions };
  switch (kind) {
    case 'content':
      if (typeof input.pattern !== 'string') throw new MatrixError(400, ErrCode.MISSING_PARAM, 'Content rules need a pattern');
      rule.pattern = input.pattern;
      break;
    case 'override':
    case 'underride': {
      const conditions = input.conditions ?? [];
      if (!Array.isArray(conditions) || !conditions.every((c) => c !== null && typeof c === 'object' && typeof c.kind === 'string')) {
        throw badJson('conditions must be a list of objects with a kind');
      }
      rule.conditions = conditions;
      break;
    }
    case 'room':
    case 'sender':
      break;
  }
  return rule;
}
