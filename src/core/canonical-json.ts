/**
 * Canonical JSON (appendices "Canonical JSON"; rooms/v6+ "Canonical JSON" makes it strict):
 * the shortest UTF-8 JSON text, object keys sorted by Unicode codepoint, no insignificant
 * whitespace, numbers only as integers in [-(2^53)+1, 2^53-1] without fraction or exponent.
 *
 * This runs for every event hashed, signed or verified, so it is a direct recursive serialiser
 * rather than a sort-then-JSON.stringify round trip. Strings are escaped with JSON.stringify,
 * whose escapes are exactly the ones the canonical grammar allows (`\" \\ \b \f \n \r \t` and
 * `\u00XX` in lower-case hex for the other ASCII controls); everything else, U+2028 and U+2029
 * included, is written raw.
 */

/** Thrown when a value cannot be represented in canonical JSON (maps to M_BAD_JSON at the edges). */
export class CanonicalJsonError extends Error {
  override name = 'CanonicalJsonError';
  /** Where the offending value sits, e.g. `['content', 'values', 2]`; filled in while unwinding. */
  readonly path: Array<string | number> = [];

  constructor(readonly reason: string) {
    super(reason);
  }
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER; // 2^53 - 1, the spec's bound in both directions

export interface CanonicalJsonOptions {
  /**
   * false for events of room versions 1-5 (rooms fragment v1-canonical-json: servers MUST NOT
   * enforce the number rules there): any finite number is written as Python's `json` module writes
   * it, which is what those rooms' events were hashed and signed over. Default true.
   */
  strict?: boolean;
}

/** Encode `value` as canonical JSON. Throws {@link CanonicalJsonError} on anything the grammar forbids. */
export function canonicalJson(value: unknown, options?: CanonicalJsonOptions): string {
  return encodeValue(value, options?.strict !== false);
}

function encodeValue(value: unknown, strict: boolean): string {
  switch (typeof value) {
    case 'string':
      return encodeString(value);
    case 'number':
      return strict ? encodeNumber(value) : encodeLaxNumber(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      if (Array.isArray(value)) return encodeArray(value, strict);
      return encodeObject(value, strict);
    default:
      throw new CanonicalJsonError(`${typeof value} is not a JSON value`);
  }
}

function encodeString(value: string): string {
  // A lone surrogate has no UTF-8 encoding; JSON.stringify would emit a `\udXXX` escape,
  // which the canonical grammar does not allow.
  if (!isWellFormed.call(value)) throw new CanonicalJsonError('string contains a lone surrogate');
  return JSON.stringify(value);
}

// String.prototype.isWellFormed is native in Node 20 but only typed from lib ES2024.
const isWellFormed = (String.prototype as unknown as { isWellFormed(this: string): boolean }).isWellFormed;

function encodeNumber(value: number): string {
  if (!Number.isInteger(value)) throw new CanonicalJsonError(`${value} is not an integer`);
  if (value > MAX_SAFE || value < -MAX_SAFE) throw new CanonicalJsonError(`${value} is out of range`);
  // String() never uses an exponent below 1e21 and prints -0 as "0", as the spec requires.
  return String(value);
}

/**
 * Room versions 1-5: safe integers as digits, other finite numbers as Python's float `repr`
 * (the shortest round-tripping digits, in exponent form below 1e-4 and from 1e16, the exponent
 * signed and at least two digits: `1e-05`, `1.25e+300`; integral values below 1e16 end in `.0`).
 * JSON.parse has already merged `50.0` into `50`, so an integral float within the safe range is
 * written as an integer: the one case where a v1-v5 event cannot be re-hashed exactly.
 */
function encodeLaxNumber(value: number): string {
  if (!Number.isFinite(value)) throw new CanonicalJsonError(`${value} is not a JSON number`);
  if (Number.isSafeInteger(value)) return String(value);
  const exponential = value.toExponential();
  const e = exponential.indexOf('e');
  const exponent = Number(exponential.slice(e + 1));
  if (exponent >= -4 && exponent < 16) return Number.isInteger(value) ? `${String(value)}.0` : String(value);
  const sign = exponent < 0 ? '-' : '+';
  return `${exponential.slice(0, e)}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
}

function encodeArray(items: unknown[], strict: boolean): string {
  let out = '[';
  let i = 0;
  try {
    for (; i < items.length; i++) {
      if (i > 0) out += ',';
      out += encodeValue(items[i], strict);
    }
  } catch (error) {
    throw withPathStep(error, i);
  }
  return out + ']';
}

function encodeObject(object: object, strict: boolean): string {
  const proto = Object.getPrototypeOf(object);
  if (proto !== Object.prototype && proto !== null) {
    throw new CanonicalJsonError(`${proto?.constructor?.name ?? 'exotic'} object is not a JSON object`);
  }
  const record = object as Record<string, unknown>;
  const keys = sortByCodepoint(Object.keys(record));
  let out = '{';
  let first = true;
  let key = '';
  try {
    for (key of keys) {
      const member = record[key];
      // An absent optional field (`state_key: undefined`) is no member at all, as in JSON.stringify.
      if (member === undefined) continue;
      if (!first) out += ',';
      first = false;
      out += encodeString(key) + ':' + encodeValue(member, strict);
    }
  } catch (error) {
    throw withPathStep(error, key);
  }
  return out + '}';
}

// The path is assembled only when something fails, keeping the common case free of string work.
function withPathStep(error: unknown, step: string | number): unknown {
  if (error instanceof CanonicalJsonError) {
    error.path.unshift(step);
    error.message = `${error.path.join('.')}: ${error.reason}`;
  }
  return error;
}

/**
 * Array.prototype.sort compares UTF-16 code units, which equals codepoint order unless a key
 * holds a surrogate pair (an astral character sorts below U+E000..U+FFFF by code units but above
 * them by codepoint). Keys are almost always ASCII, so the exact comparison runs only when needed.
 */
function sortByCodepoint(keys: string[]): string[] {
  keys.sort();
  for (const key of keys) {
    if (SURROGATE.test(key)) return keys.sort(compareCodepoints);
  }
  return keys;
}

const SURROGATE = /[\uD800-\uDFFF]/;

function compareCodepoints(a: string, b: string): number {
  const left = a[Symbol.iterator]();
  const right = b[Symbol.iterator]();
  for (;;) {
    const x = left.next();
    const y = right.next();
    if (x.done || y.done) return (x.done ? 0 : 1) - (y.done ? 0 : 1);
    const difference = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (difference !== 0) return difference;
  }
}
