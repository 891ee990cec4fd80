/**
 * A user's push rule changes (client-server-api "Push Rules"): `str user_id` -> json
 * PushRuleOverrides. Only what differs from the server-default rules is stored; the full ruleset is
 * assembled by accounts/push-rules.ts.
 */
import type { JsonObject } from '../core/types.js';
import type { BatchOp, Database } from './db.js';
import { tuple } from './codec.js';

export type PushRuleKind = 'override' | 'content' | 'room' | 'sender' | 'underride';

/** A user-defined rule as the API describes it (`PushRule`), minus `default`. */
export interface UserPushRule {
  rule_id: string;
  enabled: boolean;
  actions: unknown[];
  conditions?: JsonObject[];
  pattern?: string;
}

export interface PushRuleOverrides {
  /** User-defined rules per kind, most important first. */
  custom: Record<PushRuleKind, UserPushRule[]>;
  /** Changes to server-default rules, by rule id. */
  defaults: Record<string, { enabled?: boolean; actions?: unknown[] }>;
}

export function emptyPushRuleOverrides(): PushRuleOverrides {
  return { custom: { override: [], content: [], room: [], sender: [], underride: [] }, defaults: {} };
}

export class PushRuleStore {
  constructor(private readonly db: Database) {}

  async get(userId: string): Promise<PushRuleOverrides> {
    return (await this.db.getJson<PushRuleOverrides>('pushRules', tuple(userId))) ?? emptyPushRuleOverrides();
  }

  putTxn(ops: BatchOp[], userId: string, overrides: PushRuleOverrides): void {
    ops.push(this.db.putJson('pushRules', tuple(userId), overrides));
  }
}
