/**
 * Push rule conditions (client-server-api modules/push.md "Conditions") and the two text-matching
 * primitives they rest on: glob patterns (appendices "Glob-style matching") and dot-separated
 * property paths (appendices "Dot-separated property paths"). Pure functions, no I/O.
 */
import type { Json, JsonObject } from '../core/types.js';
import { isJsonObject } from '../core/json-object.js';
import { LruCache } from '../storage/lru.js';

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

/** The value at a pre-split property path, or undefined when any step is absent. */
function valueAt(event: JsonObject, parts: readonly string[]): Json | undefined {
  let value: Json | undefined = event;
  for (const part of parts) {
    if (!isJsonObject(value)) return undefined;
    if (!Object.hasOwn(value, part)) return undefined;
    value = value[part];
  }
  return value;
}

/** The value at a property path of the event, or undefined when any step is absent. */
export function propertyAt(event: JsonObject, path: string): Json | undefined {
  return valueAt(event, splitPropertyPath(path));
}

const BODY_PATH = ['content', 'body'] as const;

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

/** Case-insensitive, whole-value glob (`event_match` on any key but `content.body`). */
function wholeGlobRegExp(glob: string): RegExp {
  return new RegExp(`^${globSource(glob)}$`, 'isu');
}

/**
 * Case-insensitive glob against any substring that starts and ends at a word boundary (the
 * `content.body` special case of `event_match`, and content rules).
 */
function wordsRegExp(source: string): RegExp {
  return new RegExp(`(?:^|${NON_WORD})${source}(?:${NON_WORD}|$)`, 'isu');
}

/** Case-insensitive match of the whole value against a glob. */
export function globMatchesWhole(glob: string, value: string): boolean {
  return wholeGlobRegExp(glob).test(value);
}

/** Case-insensitive match of a glob against any word-bounded substring of `value`. */
export function globMatchesWords(glob: string, value: string): boolean {
  return wordsRegExp(globSource(glob)).test(value);
}

/** A compiled content rule: whether its `pattern` matches a word-bounded part of `content.body`. */
export function compileBodyPattern(glob: string): (event: JsonObject) => boolean {
  const re = wordsRegExp(globSource(glob));
  return (event) => {
    const body = valueAt(event, BODY_PATH);
    return typeof body === 'string' && re.test(body);
  };
}

/**
 * Display-name patterns, by name. A recipient's display name is not part of their ruleset, so
 * `contains_display_name` cannot be compiled with it; names come from member events of rooms the
 * server is in, so the cache is bounded (least recently used first out).
 */
const displayNamePatterns = new LruCache<string, RegExp>(256);

function displayNameRegExp(name: string): RegExp {
  let re = displayNamePatterns.get(name);
  if (!re) {
    re = wordsRegExp(escapeRegExp(name));
    displayNamePatterns.set(name, re);
  }
  return re;
}

/** "non-compound canonical JSON values": strings, safe integers, booleans and null. */
function isScalar(value: Json | undefined): value is string | number | boolean | null {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  return typeof value === 'number' && Number.isSafeInteger(value);
}

/** `room_member_count`: an optional operator (`==`, `<`, `>`, `<=`, `>=`; default `==`) and a count. */
function compileMemberCount(is: Json | undefined): (count: number) => boolean {
  const m = typeof is === 'string' ? /^(==|<=|>=|<|>)?([0-9]+)$/.exec(is) : null;
  if (!m) return () => false;
  const wanted = Number(m[2]);
  switch (m[1] ?? '==') {
    case '<':
      return (count) => count < wanted;
    case '>':
      return (count) => count > wanted;
    case '<=':
      return (count) => count <= wanted;
    case '>=':
      return (count) => count >= wanted;
    default:
      return (count) => count === wanted;
  }
}

/** A condition compiled once per ruleset: its globs, paths and operators are parsed up front. */
export type CompiledCondition = (event: JsonObject, ctx: PushConditionContext) => boolean;

const NEVER: CompiledCondition = () => false;

/** Whether one condition holds for the event. Unrecognised conditions never match ("Conditions"). */
export function conditionMatches(condition: JsonObject, event: JsonObject, ctx: PushConditionContext): boolean {
  return compileCondition(condition)(event, ctx);
}

/**
 * A condition as a predicate. Every event is evaluated against every local member's rules when
 * it is persisted (unread counts, notification-counts.ts), so the parsing a condition needs is
 * done here, once per ruleset, not per event.
 */
export function compileCondition(condition: JsonObject): CompiledCondition {
  switch (condition.kind) {
    case 'event_match': {
      // Absent or non-string properties never match, not even `*`.
      const { key, pattern } = condition;
      if (typeof key !== 'string' || typeof pattern !== 'string') return NEVER;
      const path = splitPropertyPath(key);
      const re = key === 'content.body' ? wordsRegExp(globSource(pattern)) : wholeGlobRegExp(pattern);
      return (event) => {
        const value = valueAt(event, path);
        return typeof value === 'string' && re.test(value);
      };
    }
    case 'event_property_is': {
      const { key, value } = condition;
      if (typeof key !== 'string' || !isScalar(value)) return NEVER;
      const path = splitPropertyPath(key);
      return (event) => {
        const actual = valueAt(event, path);
        return isScalar(actual) && actual === value;
      };
    }
    case 'event_property_contains': {
      const { key, value } = condition;
      if (typeof key !== 'string' || !isScalar(value)) return NEVER;
      const path = splitPropertyPath(key);
      return (event) => {
        const actual = valueAt(event, path);
        return Array.isArray(actual) && actual.some((item) => isScalar(item) && item === value);
      };
    }
    case 'contains_display_name':
      return (event, ctx) => {
        const body = valueAt(event, BODY_PATH);
        return typeof body === 'string' && !!ctx.displayName && displayNameRegExp(ctx.displayName).test(body);
      };
    case 'room_member_count': {
      const matches = compileMemberCount(condition.is);
      return (_event, ctx) => matches(ctx.memberCount);
    }
    case 'sender_notification_permission': {
      const { key } = condition;
      if (typeof key !== 'string') return NEVER;
      return (_event, ctx) => ctx.senderPowerLevel >= ctx.notificationLevel(key);
    }
    default:
      return NEVER;
  }
}
