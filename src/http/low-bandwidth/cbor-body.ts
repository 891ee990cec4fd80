/**
 * CBOR bodies for the Client-Server API (MSC3079 "Low Bandwidth Client-Server API", its CBOR part):
 * the JSON data model written as CBOR (RFC 8949 section 6.2, "Converting from JSON to CBOR"), with
 * the MSC's optional integer keys (`cbor-keys.ts`).
 *
 * Decoding is ours, not cbor-x's: a request body is hostile input and must come out as exactly what
 * `JSON.parse` could have produced, or be refused. cbor-x would hand back byte strings, tags (dates,
 * typed arrays, its own record extension), `undefined`, maps with any key type, and strings decoded
 * leniently; checking all that after the fact costs as much as reading the few major types the JSON
 * model needs. The rules:
 * - maps (keys: text, or an integer of the key table), arrays, text (UTF-8, refused if ill-formed:
 *   as `json-body.ts` refuses invalid UTF-8), integers, floats, true, false, null; indefinite
 *   lengths are allowed; the self-described CBOR tag (55799) may open the body;
 * - refused: byte strings, other tags, `undefined`, other simple values, NaN and infinities, a key
 *   written twice the same way, nesting deeper than MAX_JSON_DEPTH, bytes after the value;
 * - a key written both as text and as its integer: the text one is used (MSC3079 "JSON -> CBOR");
 * - a float (even 1.0) is reported, as `json-body.ts` reports `1.0` in JSON text: event content
 *   must be canonical JSON, integers only.
 *
 * Encoding (responses) goes through cbor-x after a walk that does what `JSON.stringify` does
 * (`toJSON`, no `undefined` members), so a CBOR client reads the same document a JSON client would.
 */
import { Encoder } from 'cbor-x';
import { ErrCode, MatrixError } from '../../core/errors.js';
import { MAX_JSON_DEPTH } from '../../core/json-text.js';
import { keyIntegerOf, keyNameOf } from './cbor-keys.js';

export interface DecodedCbor {
  value: unknown;
  /** Some map key was written as an integer: the client speaks the key table (MSC3079 "Versioning"). */
  usedIntegerKeys: boolean;
  /** Some number was written as a float. */
  nonIntegerNumber: boolean;
}

const SELF_DESCRIBED_TAG = 55799;
const BREAK = 0xff;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes a request body; a MatrixError 400 M_NOT_JSON (or M_BAD_JSON when too deep) otherwise. */
export function decodeCborBody(body: Uint8Array): DecodedCbor {
  const reader = new CborReader(body);
  reader.skipSelfDescribedTag();
  const value = reader.readValue(1);
  if (reader.offset !== body.length) throw notCbor(`${body.length - reader.offset} bytes after the value`);
  return { value, usedIntegerKeys: reader.usedIntegerKeys, nonIntegerNumber: reader.nonIntegerNumber };
}

class CborReader {
  offset = 0;
  usedIntegerKeys = false;
  nonIntegerNumber = false;
  private readonly view: DataView;

  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  skipSelfDescribedTag(): void {
    // 0xd9 0xd9 0xf7: tag 55799, "this is CBOR" (RFC 8949 section 3.4.6); nothing else may be tagged.
    if (this.bytes.length >= 3 && this.bytes[0] === 0xd9 && this.view.getUint16(1) === SELF_DESCRIBED_TAG) this.offset = 3;
  }

  readValue(depth: number): unknown {
    const initial = this.byte();
    const major = initial >> 5;
    const info = initial & 0x1f;
    switch (major) {
      case 0:
        return this.argument(info, 'an integer');
      case 1:
        return -1 - this.argument(info, 'an integer');
      case 2:
        throw notCbor('a byte string (JSON has none)');
      case 3:
        return this.readText(info);
      case 4:
        return this.readArray(info, depth);
      case 5:
        return this.readMap(info, depth);
      case 6:
        throw notCbor(`tag ${this.argument(info, 'a tag')} (JSON has no tags)`);
      default:
        return this.readSimple(info);
    }
  }

  private readSimple(info: number): unknown {
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 25:
        return this.float(half(this.take(2)));
      case 26:
        return this.float(this.number(4, () => this.view.getFloat32(this.offset - 4)));
      case 27:
        return this.float(this.number(8, () => this.view.getFloat64(this.offset - 8)));
      case 31:
        throw notCbor('a break outside an indefinite-length item');
      default:
        throw notCbor(info === 23 ? 'undefined (JSON has no undefined)' : `simple value ${info}`);
    }
  }

  private float(value: number): number {
    if (!Number.isFinite(value)) throw notCbor(`${value} (not a JSON number)`);
    this.nonIntegerNumber = true;
    return value;
  }

  private readText(info: number): string {
    if (info !== 31) return this.utf8(this.take(this.argument(info, 'a text length')));
    let text = '';
    // Indefinite length: definite text chunks up to a break, each valid UTF-8 on its own (RFC 8949 3.2.3).
    while (this.peek() !== BREAK) {
      const initial = this.byte();
      if (initial >> 5 !== 3 || (initial & 0x1f) === 31) throw notCbor('a text chunk that is not definite text');
      text += this.utf8(this.take(this.argument(initial & 0x1f, 'a text length')));
    }
    this.offset++;
    return text;
  }

  private readArray(info: number, depth: number): unknown[] {
    this.enter(depth);
    const items: unknown[] = [];
    if (info === 31) {
      while (this.peek() !== BREAK) items.push(this.readValue(depth + 1));
      this.offset++;
      return items;
    }
    // The count is a claim: items are read one by one and the body runs out first if it lies.
    const count = this.argument(info, 'an array length');
    for (let i = 0; i < count; i++) items.push(this.readValue(depth + 1));
    return items;
  }

  private readMap(info: number, depth: number): Record<string, unknown> {
    this.enter(depth);
    const object: Record<string, unknown> = {};
    let byInteger: Map<string, unknown> | undefined;
    const entry = () => {
      const key = this.readKey();
      const value = this.readValue(depth + 1);
      if (typeof key === 'string') {
        if (Object.hasOwn(object, key)) throw notCbor(`the key "${key}" written twice`);
        setMember(object, key, value);
      } else {
        byInteger ??= new Map();
        if (byInteger.has(key.name)) throw notCbor(`the key ${keyIntegerOf(key.name)} written twice`);
        byInteger.set(key.name, value);
      }
    };
    if (info === 31) {
      while (this.peek() !== BREAK) entry();
      this.offset++;
    } else {
      const count = this.argument(info, 'a map length');
      for (let i = 0; i < count; i++) entry();
    }
    // MSC3079: "If [a key is defined twice: once as a number and once as a string], the string key MUST be used."
    if (byInteger) for (const [name, value] of byInteger) if (!Object.hasOwn(object, name)) setMember(object, name, value);
    return object;
  }

  private readKey(): string | { name: string } {
    const initial = this.byte();
    const major = initial >> 5;
    if (major === 3) return this.readText(initial & 0x1f);
    if (major === 0) {
      const integer = this.argument(initial & 0x1f, 'a key');
      const name = keyNameOf(integer);
      if (name === undefined) throw notCbor(`the integer key ${integer}, which no version of the MSC3079 key table defines`);
      this.usedIntegerKeys = true;
      return { name };
    }
    throw notCbor('a map key that is neither text nor an integer of the key table');
  }

  private enter(depth: number): void {
    if (depth > MAX_JSON_DEPTH) throw new MatrixError(400, ErrCode.BAD_JSON, `CBOR nested deeper than ${MAX_JSON_DEPTH} levels.`);
  }

  /** The argument of a head (RFC 8949 section 3): its value, or its length. */
  private argument(info: number, what: string): number {
    if (info < 24) return info;
    switch (info) {
      case 24:
        return this.byte();
      case 25:
        return this.number(2, () => this.view.getUint16(this.offset - 2));
      case 26:
        return this.number(4, () => this.view.getUint32(this.offset - 4));
      case 27:
        // Beyond 2^53 a number loses precision, as `JSON.parse` would lose it; the event checks
        // refuse unsafe integers where canonical JSON matters. As a length it is simply too long.
        return this.number(8, () => this.view.getUint32(this.offset - 8) * 2 ** 32 + this.view.getUint32(this.offset - 4));
      default:
        throw notCbor(info === 31 ? `an indefinite length for ${what}` : `reserved additional information ${info}`);
    }
  }

  private number(size: number, read: () => number): number {
    this.need(size);
    this.offset += size;
    return read();
  }

  private byte(): number {
    this.need(1);
    return this.bytes[this.offset++]!;
  }

  private peek(): number {
    this.need(1);
    return this.bytes[this.offset]!;
  }

  private take(length: number): Uint8Array {
    this.need(length);
    const slice = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }

  private need(length: number): void {
    if (this.offset + length > this.bytes.length) throw notCbor('the body ends inside a value');
  }

  private utf8(bytes: Uint8Array): string {
    try {
      return UTF8.decode(bytes);
    } catch {
      throw notCbor('text that is not UTF-8');
    }
  }
}

/** `object[key] = value`, except that a key named `__proto__` is a member, as `JSON.parse` makes it. */
function setMember(object: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
  else object[key] = value;
}

/** IEEE 754 half precision (RFC 8949 Appendix D). */
function half(bytes: Uint8Array): number {
  const bits = (bytes[0]! << 8) | bytes[1]!;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  const magnitude = exponent === 0 ? mantissa * 2 ** -24 : exponent === 31 ? (mantissa === 0 ? Infinity : NaN) : (mantissa + 1024) * 2 ** (exponent - 25);
  return bits & 0x8000 ? -magnitude : magnitude;
}

function notCbor(why: string): MatrixError {
  return new MatrixError(400, ErrCode.NOT_JSON, `Content not CBOR of the JSON data model: ${why}.`);
}

// ---- responses ----

/**
 * Maps as maps of their own size (not cbor-x's default 16-bit map headers), no records, plain
 * arrays, and a Map (integer keys) as a plain CBOR map, not under cbor-x's tag 259: every byte
 * counts on the links this is for, and a client must read it with any CBOR decoder.
 */
const ENCODER = new Encoder({ useRecords: false, variableMapSize: true, tagUint8Array: false, mapsAsObjects: false });

/**
 * A response document as CBOR; with `integerKeys`, every key of the table written as its integer.
 * Values go through what `JSON.stringify` would write (see `asJsonModel`).
 */
export function encodeCborBody(value: unknown, integerKeys: boolean): Buffer {
  return ENCODER.encode(asJsonModel(value, integerKeys, ''));
}

/**
 * What `JSON.stringify` would write, as values: `toJSON` applied, members that are undefined,
 * functions or symbols left out (null in arrays), non-finite numbers as null. With integer keys,
 * objects become Maps so that cbor-x writes the integers as integers.
 */
function asJsonModel(value: unknown, integerKeys: boolean, key: string): unknown {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON: (key: string) => unknown }).toJSON(key);
  }
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'bigint') throw new TypeError('a bigint in a response document');
  if (value === null || typeof value !== 'object') return representable(value) ? value : undefined;
  if (Array.isArray(value)) {
    return value.map((item, i) => {
      const mapped = asJsonModel(item, integerKeys, String(i));
      return mapped === undefined ? null : mapped;
    });
  }
  if (integerKeys) {
    const map = new Map<string | number, unknown>();
    for (const [name, member] of Object.entries(value)) {
      const mapped = asJsonModel(member, integerKeys, name);
      if (mapped !== undefined) map.set(keyIntegerOf(name) ?? name, mapped);
    }
    return map;
  }
  const out: Record<string, unknown> = {};
  for (const [name, member] of Object.entries(value)) {
    const mapped = asJsonModel(member, integerKeys, name);
    if (mapped !== undefined) setMember(out, name, mapped);
  }
  return out;
}

function representable(value: unknown): boolean {
  return value !== undefined && typeof value !== 'function' && typeof value !== 'symbol';
}
