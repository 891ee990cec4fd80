/**
 * Push rule conditions (client-server-api modules/push.md "Conditions") and the two text-matching
 * primitives they rest on: glob patterns (appendices "Glob-style matching") and dot-separated
 * property paths (appendices "Dot-separated property paths"). Pure functions, no I/O.
 */
import type { Json, JsonObject } from '../core/types.js';
import { isJsonObject } from '../core/json-object.js';

/** What a condition may ask about the room, besides the event itself. */
export interface PushConditionContext {
  /** The user whose rules are evaluated. */
  userId: string;
  /** That user's display name in the room, if they set one (`contains_display_name`). */
  displayName?: string;
  /** Joined members of the room (`room_member_count`). */
  memberCount: number;
  /** The sender's power level (`sender_notification_permission`). */
  senderPowerLevel: number;
  /** The level the `notifications` object of m.room.power_levels requires for `key`. */
  notificationLevel(key: string): number;
}

/** Characters that are not part of a word ("a word boundary is ... any character not in [A-Za-z0-9_]"). */
const NON_WORD = '[^A-Za-z0-9_]';

/**
 * Splits a dot-separated property path: `\.` is a literal dot, `\\` a literal backslash, any other
 * backslash sequence is kept as it is.
 */
export function splitPropertyPath(path: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    const next = path[i + 1];
    if (c === '\\' && (next === '.' || next === '\\')) {
      current += next;
      i++;
    } else if (c === '.') {
      parts.push(current);
      current = '';
    } else {
      current += c;
    }
  }
  parts.push(current);
  return parts;
}

/** The value at a property path of the event, or undefined when any step is absent. */
export function propertyAt(event: JsonObject, path: string): Json | undefined {
  let value: Json | undefined = event;
  for (const part of splitPropertyPath(path)) {
    if (!isJsonObject(value)) return undefined;
    if (!Object.hasOwn(value, part)) return undefined;
    value = value[part];
  }
  return value;
}

/** The regular expression source of a glob: `*` is any run of characters, `?` exactly one. */
function globSource(glob: string): string {
  let out = '';
  for (const c of glob) {
    if (c === '*') out += '.*';
    else if (c === '?') out += '.';
    else out += escapeRegExp(c);
  }
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

/**
 * Compiled patterns, by source. Every event is evaluated against every local member's rules when
 * it is persisted (unread counts, notification-counts.ts), and a new RegExp per condition was ~10%
 * of a send. Keys come from push rules and display names, so the cache is bounded: the oldest
 * entry goes first.
 */
const MAX_CACHED_PATTERNS = 512;
const patterns = new Map<string, RegExp>();

function pattern(source: string): RegExp {
  let re = patterns.get(source);
  if (!re) {
    re = new RegExp(source, 'isu');
    if (patterns.size >= MAX_CACHED_PATTERNS) patterns.delete(patterns.keys().next().value!);
    patterns.set(source, re);
  }
  return re;
}

/** Case-insensitive match of the whole value against a glob. */
export function globMatchesWhole(glob: string, value: string): boolean {
  return pattern(`^${globSource(glob)}$`).test(value);
}

/**
 * Case-insensitive match of a glob against any substring of `value` that starts and ends at a word
 * boundary (the `content.body` special case of `event_match`, and content rules).
 */
export function globMatchesWords(glob: string, value: string): boolean {
  return pattern(`(?:^|${NON_WORD})${globSource(glob)}(?:${NON_WORD}|$)`).test(value);
}

/** Like {@link globMatchesWords}, for a literal text (the display name). */
function literalMatchesWords(text: string, value: string): boolean {
  return pattern(`(?:^|${NON_WORD})${escapeRegExp(text)}(?:${NON_WORD}|$)`).test(value);
}

/** "non-compound canonical JSON values": strings, safe integers, booleans and null. */
function isScalar(value: Json | undefined): value is string | number | boolean | null {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  return typeof value === 'number' && Number.isSafeInteger(value);
}

/** `room_member_count`: an optional operator (`==`, `<`, `>`, `<=`, `>=`; default `==`) and a count. */
function memberCountMatches(is: Json | undefined, count: number): boolean {
  if (typeof is !== 'string') return false;
  const m = /^(==|<=|>=|<|>)?([0-9]+)$/.exec(is);
  if (!m) return false;
  const wanted = Number(m[2]);
  switch (m[1] ?? '==') {
    case '==':
      return count === wanted;
    case '<':
      return count < wanted;
    case '>':
      return count > wanted;
    case '<=':
      return count <= wanted;
    case '>=':
      return count >= wanted;
    default:
      return false;
  }
}

/** Whether one condition holds for the event. Unrecognised conditions never match ("Conditions"). */
export function conditionMatches(condition: JsonObject, event: JsonObject, ctx: PushConditionContext): boolean {
  switch (condition.kind) {
    case 'event_match': {
      // Absent or non-string properties never match, not even `*`.
      const { key, pattern } = condition;
      if (typeof key !== 'string' || typeof pattern !== 'string') return false;
      const value = propertyAt(event, key);
      if (typeof value !== 'string') return false;
      return key === 'content.body' ? globMatchesWords(pattern, value) : globMatchesWhole(pattern, value);
    }
    case 'event_property_is': {
      const { key, value } = condition;
      if (typeof key !== 'string' || !isScalar(value)) return false;
      const actual = propertyAt(event, key);
      return isScalar(actual) && actual === value;
    }
    case 'event_property_contains': {
      const { key, value } = condition;
      if (typeof key !== 'string' || !isScalar(value)) return false;
      const actual = propertyAt(event, key);
      return Array.isArray(actual) && actual.some((item) => isScalar(item) && item === value);
    }
    case 'contains_display_name': {
      const body = propertyAt(event, 'content.body');
      if (typeof body !== 'string' || !ctx.displayName) return false;
      return literalMatchesWords(ctx.displayName, body);
    }
    case 'room_member_count':
      return memberCountMatches(condition.is, ctx.memberCount);
    case 'sender_notification_permission': {
      const { key } = condition;
      if (typeof key !== 'string') return false;
      return ctx.senderPowerLevel >= ctx.notificationLevel(key);
    }
    default:
      return false;
  }
}
