/**
 * What JSON Hearth accepts beyond the JSON grammar, checked on the text (before parsing) and on
 * parsed values (before an event is built). Pure: the HTTP body parser, the room engine and the
 * federation listener all judge JSON by these.
 *
 * - Nesting depth: at most MAX_JSON_DEPTH levels of arrays and objects. The spec sets none; deeper
 *   documents are refused because clients cannot read them back (serde_json, under matrix-rust-sdk,
 *   stops at 128 levels, Python's json near 1,000) and a recursive walk of one could overflow the
 *   stack. Synapse refuses what Python's recursion limit stops.
 * - Numbers: canonical JSON (appendices "Canonical JSON"; strict from room version 6, rooms fragment
 *   v6-canonical-json: "a 400 M_BAD_JSON error on most endpoints") allows integers in
 *   [-(2^53)+1, 2^53-1] only, without fraction or exponent. `JSON.parse` reads `1.0` as 1, so a
 *   float literal can only be seen in the text.
 * - Strings: valid Unicode. A `\ud800` escape without its pair parses, but cannot be encoded as UTF-8
 *   (so it could not be hashed, signed or sent to another server).
 */

/** Deepest nesting of arrays and objects accepted, the outermost value counting as 1. */
export const MAX_JSON_DEPTH = 100;

export interface JsonTextFacts {
  /** Nesting goes past the limit (the scan stops there). */
  tooDeep: boolean;
  /** A string holds an unpaired UTF-16 surrogate, escaped or raw. */
  loneSurrogate: boolean;
  /** Some number is written with a fraction or an exponent (`1.0`, `1e3`): not canonical JSON. */
  nonIntegerLiteral: boolean;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const U = 0x75;

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

/**
 * One linear pass over JSON text, outside strings counting brackets and reading number tokens,
 * inside strings following escapes. It does not check the grammar (JSON.parse does, after): on
 * text that is not JSON its facts mean nothing, and the parse fails anyway.
 */
export function scanJsonText(text: string, maxDepth = MAX_JSON_DEPTH): JsonTextFacts {
  const facts: JsonTextFacts = { tooDeep: false, loneSurrogate: false, nonIntegerLiteral: false };
  const n = text.length;
  let depth = 0;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = scanString(text, i + 1, facts);
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) {
        facts.tooDeep = true;
        return facts;
      }
      i++;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
      i++;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      // A number token: digits, sign, and `.`/`e`/`E` if it is not an integer literal.
      let j = i + 1;
      for (; j < n; j++) {
        const d = text.charCodeAt(j);
        if (d === 0x2e || d === 0x65 || d === 0x45) facts.nonIntegerLiteral = true;
        else if (!((d >= 0x30 && d <= 0x39) || d === 0x2b || d === 0x2d)) break;
      }
      i = j;
    } else {
      i++;
    }
  }
  return facts;
}

/** Where a string scan must look: its end, an escape, or a surrogate; everything else is skipped. */
const STRING_STOP = /["\\\ud800-\udfff]/g;

/** Scans a string body from `i` (after its opening quote); returns the index after its closing quote. */
function scanString(text: string, i: number, facts: JsonTextFacts): number {
  // The UTF-16 code unit before, when it was a high surrogate still waiting for its pair.
  let pendingHigh = false;
  for (;;) {
    STRING_STOP.lastIndex = i;
    const stop = STRING_STOP.exec(text);
    if (stop === null) {
      if (pendingHigh) facts.loneSurrogate = true;
      return text.length;
    }
    if (pendingHigh && stop.index !== i) {
      facts.loneSurrogate = true;
      pendingHigh = false;
    }
    i = stop.index;
    let c = text.charCodeAt(i);
    if (c === QUOTE) {
      if (pendingHigh) facts.loneSurrogate = true;
      return i + 1;
    }
    let width = 1;
    if (c === BACKSLASH) {
      if (text.charCodeAt(i + 1) === U) {
        c = Number.parseInt(text.slice(i + 2, i + 6), 16);
        width = 6;
      } else {
        c = 0; // any other escape stands for an ASCII character
        width = 2;
      }
    }
    if (pendingHigh && isLow(c)) {
      pendingHigh = false;
    } else {
      if (pendingHigh || isLow(c)) facts.loneSurrogate = true;
      pendingHigh = isHigh(c);
    }
    i += width;
  }
}

export interface JsonValueRules {
  /** Numbers must be canonical JSON integers (room versions 6 and later). */
  integersOnly: boolean;
  maxDepth?: number;
}

/**
 * Why a parsed value is not acceptable event content (the first problem found, with its path), or
 * undefined. An explicit stack, not recursion: the value may be as deep as a hostile caller made it.
 */
export function jsonValueRefusal(value: unknown, rules: JsonValueRules): string | undefined {
  const maxDepth = rules.maxDepth ?? MAX_JSON_DEPTH;
  // Paths are only spelled out for the refusal: each entry points at its parent.
  const stack: Place[] = [{ value, depth: 1, key: undefined, parent: undefined }];
  while (stack.length > 0) {
    const place = stack.pop()!;
    const v = place.value;
    if (typeof v === 'string') {
      if (!isWellFormed(v)) return `string with a lone surrogate at ${pathOf(place)}`;
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return `${v} at ${pathOf(place)} is not a JSON number`;
      if (rules.integersOnly && !Number.isSafeInteger(v)) {
        return `${v} at ${pathOf(place)}: canonical JSON numbers are integers in [-(2^53)+1, 2^53-1]`;
      }
    } else if (v !== null && typeof v === 'object') {
      if (place.depth > maxDepth) return `nested deeper than ${maxDepth} levels at ${pathOf(place)}`;
      const depth = place.depth + 1;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) stack.push({ value: v[i], depth, key: i, parent: place });
      } else {
        for (const key in v) {
          if (!Object.hasOwn(v, key)) continue;
          if (!isWellFormed(key)) return `key with a lone surrogate in ${pathOf(place)}`;
          stack.push({ value: (v as Record<string, unknown>)[key], depth, key, parent: place });
        }
      }
    } else if (typeof v !== 'boolean' && v !== null) {
      return `${typeof v} at ${pathOf(place)} is not a JSON value`;
    }
  }
  return undefined;
}

interface Place {
  value: unknown;
  depth: number;
  key: string | number | undefined;
  parent: Place | undefined;
}

function pathOf(place: Place): string {
  const keys: Array<string | number> = [];
  for (let p: Place | undefined = place; p?.key !== undefined; p = p.parent) keys.unshift(p.key);
  if (keys.length === 0) return 'the top';
  return keys.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
}

const SURROGATE = /[\ud800-\udfff]/;
const LONE_SURROGATE = /\p{Cs}/u;
function isWellFormed(s: string): boolean {
  // Most strings hold no surrogate at all; only those that do need the Unicode-aware test.
  return !SURROGATE.test(s) || !LONE_SURROGATE.test(s);
}
