/**
 * An incremental reader for one JSON object too big to hold at once (a big room's `send_join`
 * answer: server-server "Joining Rooms", thousands of PDUs in `state` and `auth_chain`). Fed the
 * bytes as they arrive, it hands over each element of the named top-level arrays as soon as that
 * element is complete, and the other top-level members as whole values. Pure: no I/O.
 *
 * The reader only follows the top-level grammar (`{ "key": value, ... }` and the named arrays'
 * `[ element, ... ]`) and finds where each value ends; every value is then judged exactly as a
 * whole body is (`http/json-body.ts`, `core/json-text.ts`): its bytes decoded as UTF-8 with bad
 * bytes refused, nesting counted from the outermost object, lone surrogates refused, then
 * `JSON.parse` of that value's text alone. So an answer read here means what it would mean read
 * whole; only its memory is bounded: one value at most `maxElementBytes` (array elements) or
 * `maxMemberBytes` (other members) is held, and a larger one fails the read instead of being
 * buffered.
 *
 * Every structural byte (`{ } [ ] " \ , :`) is ASCII and no byte of a multi-byte UTF-8 sequence
 * is, so finding the ends on bytes is exact; a chunk may end anywhere, even inside a character.
 */
import { MAX_JSON_DEPTH, scanJsonText } from './json-text.js';

export type JsonStreamItem =
  /** One element of a named array (`index` counts from 0 in that array). */
  | { kind: 'element'; key: string; index: number; value: unknown; nonIntegerLiteral: boolean }
  /** Another top-level member, read whole. */
  | { kind: 'member'; key: string; value: unknown; nonIntegerLiteral: boolean };

export interface JsonStreamOptions {
  /** Top-level members whose value must be an array, handed over element by element. */
  arrays: readonly string[];
  /** Largest element of those arrays, in bytes as sent. */
  maxElementBytes: number;
  /** Largest value of any other member, in bytes as sent. */
  maxMemberBytes: number;
  /** Largest top-level key, in bytes as sent. Default 1024. */
  maxKeyBytes?: number;
  /** Deepest nesting, the top-level object counting as 1 (as for a whole body). Default MAX_JSON_DEPTH. */
  maxDepth?: number;
}

/** The answer is not one JSON object of the expected shape, or a value is too large. */
export class JsonStreamError extends Error {
  override name = 'JsonStreamError';
}

const enum State {
  BeforeObject,
  KeyOrEnd,
  Key,
  InKey,
  Colon,
  Value,
  ElementOrEnd,
  Element,
  Capture,
  AfterElement,
  AfterMember,
  Done,
  Failed,
}

const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;

const UTF8_BOM = [0xef, 0xbb, 0xbf];

const isWhitespace = (b: number) => b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
/** Bytes a number or `true`/`false`/`null` may be made of (JSON.parse judges the token itself). */
const isLiteralByte = (b: number) => (b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || b === 0x2b || b === 0x2d || b === 0x2e;
const startsLiteral = (b: number) => (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x74 || b === 0x66 || b === 0x6e;

/** Where the value being captured is, and what it may weigh. */
interface Capture {
  parts: Uint8Array[];
  size: number;
  limit: number;
  /** A number or literal: it ends at the first byte that cannot belong to it. */
  literal: boolean;
  /** Open brackets and braces inside the value. */
  depth: number;
  inString: boolean;
  escaped: boolean;
}

export class JsonObjectStream {
  private state = State.BeforeObject;
  private failure: JsonStreamError | undefined;
  private readonly arrays: ReadonlySet<string>;
  private readonly maxKeyBytes: number;
  private readonly maxDepth: number;
  private readonly seen = new Set<string>();
  private key = '';
  private keyParts: Uint8Array[] = [];
  private keySize = 0;
  private keyEscaped = false;
  private inArray = false;
  private index = 0;
  private capture: Capture | undefined;
  /** Bytes of earlier chunks, and of a leading byte order mark read so far. */
  private bytesBefore = 0;
  private bomBytes = 0;

  constructor(private readonly opts: JsonStreamOptions) {
    this.arrays = new Set(opts.arrays);
    this.maxKeyBytes = opts.maxKeyBytes ?? 1024;
    this.maxDepth = opts.maxDepth ?? MAX_JSON_DEPTH;
  }

  /** The values completed by `chunk`, in order. Throws JsonStreamError on anything wrong (and on every later call). */
  push(chunk: Uint8Array): JsonStreamItem[] {
    if (this.failure) throw this.failure;
    const items: JsonStreamItem[] = [];
    try {
      this.read(chunk, items);
    } catch (err) {
      this.failure = err instanceof JsonStreamError ? err : new JsonStreamError((err as Error).message);
      this.state = State.Failed;
      throw this.failure;
    }
    return items;
  }

  /** The bytes are over: throws unless exactly one whole object (and whitespace) was read. */
  end(): void {
    if (this.failure) throw this.failure;
    if (this.state !== State.Done) {
      this.failure = new JsonStreamError('the JSON ends before its top-level object does');
      this.state = State.Failed;
      throw this.failure;
    }
  }

  /** The top-level keys read so far (to tell a missing member from an empty one). */
  has(key: string): boolean {
    return this.seen.has(key);
  }

  private read(chunk: Uint8Array, items: JsonStreamItem[]): void {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      const b = chunk[i]!;
      switch (this.state) {
        case State.BeforeObject:
          if (this.bomBytes === 1 || this.bomBytes === 2) {
            if (b !== UTF8_BOM[this.bomBytes]) throw new JsonStreamError('the JSON is not UTF-8');
            this.bomBytes++;
            i++;
          } else if (isWhitespace(b)) i++;
          else if (b === UTF8_BOM[0] && this.bytesBefore + i === 0) {
            // A byte order mark may open the text (as TextDecoder lets it for a whole body).
            this.bomBytes++;
            i++;
          } else if (b === OPEN_BRACE) {
            this.state = State.KeyOrEnd;
            i++;
          } else throw new JsonStreamError('the JSON is not an object');
          break;
        case State.KeyOrEnd:
        case State.Key:
          if (isWhitespace(b)) i++;
          else if (b === QUOTE) {
            this.keyParts = [];
            this.keySize = 0;
            this.keyEscaped = false;
            this.state = State.InKey;
            i++;
          } else if (b === CLOSE_BRACE && this.state === State.KeyOrEnd) {
            this.state = State.Done;
            i++;
          } else throw new JsonStreamError(`expected a key at the top level, found ${describe(b)}`);
          break;
        case State.InKey:
          i = this.readKey(chunk, i);
          break;
        case State.Colon:
          if (isWhitespace(b)) i++;
          else if (b === COLON) {
            this.state = State.Value;
            i++;
          } else throw new JsonStreamError(`expected ':' after "${this.key}", found ${describe(b)}`);
          break;
        case State.Value:
          if (isWhitespace(b)) i++;
          else if (this.arrays.has(this.key)) {
            if (b !== OPEN_BRACKET) throw new JsonStreamError(`"${this.key}" is not an array`);
            this.inArray = true;
            this.index = 0;
            this.state = State.ElementOrEnd;
            i++;
          } else {
            this.inArray = false;
            this.startCapture(b, this.opts.maxMemberBytes);
          }
          break;
        case State.ElementOrEnd:
        case State.Element:
          if (isWhitespace(b)) i++;
          else if (b === CLOSE_BRACKET && this.state === State.ElementOrEnd) {
            this.state = State.AfterMember;
            i++;
          } else this.startCapture(b, this.opts.maxElementBytes);
          break;
        case State.Capture:
          i = this.readValue(chunk, i, items);
          break;
        case State.AfterElement:
          if (isWhitespace(b)) i++;
          else if (b === COMMA) {
            this.state = State.Element;
            i++;
          } else if (b === CLOSE_BRACKET) {
            this.state = State.AfterMember;
            i++;
          } else throw new JsonStreamError(`expected ',' or ']' in "${this.key}", found ${describe(b)}`);
          break;
        case State.AfterMember:
          if (isWhitespace(b)) i++;
          else if (b === COMMA) {
            this.state = State.Key;
            i++;
          } else if (b === CLOSE_BRACE) {
            this.state = State.Done;
            i++;
          } else throw new JsonStreamError(`expected ',' or '}' after "${this.key}", found ${describe(b)}`);
          break;
        case State.Done:
          if (isWhitespace(b)) i++;
          else throw new JsonStreamError('more data after the top-level object');
          break;
        case State.Failed:
          throw this.failure ?? new JsonStreamError('failed');
      }
    }
    this.bytesBefore += n;
  }

  /** Reads key bytes from `i` until the closing quote; returns where it stopped. */
  private readKey(chunk: Uint8Array, start: number): number {
    let i = start;
    let closed = false;
    for (; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.keyEscaped) this.keyEscaped = false;
      else if (b === BACKSLASH) this.keyEscaped = true;
      else if (b === QUOTE) {
        closed = true;
        break;
      }
    }
    this.keySize += i - start;
    if (this.keySize > this.maxKeyBytes) throw new JsonStreamError(`a top-level key is longer than ${this.maxKeyBytes} bytes`);
    this.keyParts.push(chunk.subarray(start, i));
    if (!closed) return i;
    const text = decodeUtf8(concat(this.keyParts, this.keySize), 'a top-level key');
    let key: unknown;
    try {
      key = JSON.parse(`"${text}"`);
    } catch {
      throw new JsonStreamError('a top-level key is not a JSON string');
    }
    if (scanJsonText(`"${text}"`).loneSurrogate) throw new JsonStreamError('a top-level key holds a lone surrogate');
    this.key = key as string;
    this.keyParts = [];
    if (this.seen.has(this.key)) throw new JsonStreamError(`"${this.key}" appears twice at the top level`);
    this.seen.add(this.key);
    this.state = State.Colon;
    return i + 1;
  }

  /** Begins a value at byte `b` (not consumed: `readValue` reads it). */
  private startCapture(b: number, limit: number): void {
    if (b !== OPEN_BRACE && b !== OPEN_BRACKET && b !== QUOTE && !startsLiteral(b)) {
      throw new JsonStreamError(`expected a value in "${this.key}", found ${describe(b)}`);
    }
    this.capture = { parts: [], size: 0, limit, literal: startsLiteral(b), depth: 0, inString: false, escaped: false };
    this.state = State.Capture;
  }

  /** Reads the value being captured from `start`; when it is complete, judges it and hands it over. */
  private readValue(chunk: Uint8Array, start: number, items: JsonStreamItem[]): number {
    const c = this.capture!;
    let i = start;
    let complete = false;
    if (c.literal) {
      while (i < chunk.length && isLiteralByte(chunk[i]!)) i++;
      complete = i < chunk.length;
    } else {
      for (; i < chunk.length; i++) {
        const b = chunk[i]!;
        if (c.inString) {
          if (c.escaped) c.escaped = false;
          else if (b === BACKSLASH) c.escaped = true;
          else if (b === QUOTE) {
            c.inString = false;
            if (c.depth === 0) {
              i++;
              complete = true;
              break;
            }
          }
        } else if (b === QUOTE) c.inString = true;
        else if (b === OPEN_BRACE || b === OPEN_BRACKET) c.depth++;
        else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
          // A stray closer at depth 0 cannot happen: a value starts with an opener or a quote.
          if (--c.depth === 0) {
            i++;
            complete = true;
            break;
          }
        }
      }
    }
    if (c.size + (i - start) > c.limit) {
      const where = this.inArray ? `an element of "${this.key}" (index ${this.index})` : `the value of "${this.key}"`;
      throw new JsonStreamError(`${where} is larger than ${c.limit} bytes`);
    }
    c.size += i - start;
    c.parts.push(chunk.subarray(start, i));
    if (!complete) return i;
    items.push(this.finish(c));
    this.capture = undefined;
    this.state = this.inArray ? State.AfterElement : State.AfterMember;
    return i;
  }

  /** A complete value's text, judged as a whole body would be, parsed. */
  private finish(c: Capture): JsonStreamItem {
    const where = this.inArray ? `element ${this.index} of "${this.key}"` : `"${this.key}"`;
    const text = decodeUtf8(concat(c.parts, c.size), where);
    // Depth as in the whole body: the top-level object is level 1, an array's elements level 3.
    const levelsAbove = this.inArray ? 2 : 1;
    const facts = scanJsonText(text, this.maxDepth - levelsAbove);
    if (facts.tooDeep) throw new JsonStreamError(`${where} is nested deeper than ${this.maxDepth} levels`);
    if (facts.loneSurrogate) throw new JsonStreamError(`${where} holds a string with a lone surrogate`);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw new JsonStreamError(`${where} is not JSON`);
    }
    if (this.inArray) return { kind: 'element', key: this.key, index: this.index++, value, nonIntegerLiteral: facts.nonIntegerLiteral };
    return { kind: 'member', key: this.key, value, nonIntegerLiteral: facts.nonIntegerLiteral };
  }
}

/** Bytes that are not UTF-8 are refused, not replaced (as `http/json-body.ts`: a signature covers bytes). */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeUtf8(bytes: Uint8Array, where: string): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new JsonStreamError(`${where} is not UTF-8`);
  }
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function describe(b: number): string {
  return b >= 0x20 && b < 0x7f ? `'${String.fromCharCode(b)}'` : `byte 0x${b.toString(16).padStart(2, '0')}`;
}
