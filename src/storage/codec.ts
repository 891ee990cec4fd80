/**
 * The one key codec. Every key in the store is built here, so byte order equals the intended order:
 * integers are fixed-width big-endian, strings inside tuples are escaped UTF-8 terminated by 0x00,
 * and signed stream positions are biased so negative positions sort first.
 *
 * Tuple strings are unambiguous by construction, whatever they contain (storage version 3): inside a
 * string 0x00 is written 0x01 0x01 and 0x01 is written 0x01 0x02, so the only 0x00 byte of an
 * encoded string is its terminator. No two different tuples share a key, no tuple is a prefix of
 * another's string part, and byte order is still string order (0x00 < 0x01 0x01 < 0x01 0x02 < 0x02).
 * Strings without 0x00 and 0x01 bytes (every Matrix id) encode exactly as in versions 1 and 2.
 */

const BIAS = 2n ** 63n;

export function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

export function readU32(b: Uint8Array, offset = 0): number {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).readUInt32BE(offset);
}

/** Unsigned 64-bit big-endian (safe-integer range). */
export function u64(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

export function readU64(b: Uint8Array, offset = 0): number {
  return Number(Buffer.from(b.buffer, b.byteOffset, b.byteLength).readBigUInt64BE(offset));
}

/**
 * A signed position encoded so that byte order is numeric order: backfilled events get negative
 * positions and sort before live ones, so one iterator serves both pagination directions.
 */
export function position(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(n) + BIAS);
  return b;
}

export function readPosition(b: Uint8Array, offset = 0): number {
  return Number(Buffer.from(b.buffer, b.byteOffset, b.byteLength).readBigUInt64BE(offset) - BIAS);
}

export type KeyPart = string | Buffer;

/** Joins key parts; string parts are escaped and terminated by 0x00, binary parts are fixed width. */
export function tuple(...parts: KeyPart[]): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    if (typeof p === 'string') {
      chunks.push(escapeString(Buffer.from(p, 'utf8')), TERMINATOR);
    } else {
      chunks.push(p);
    }
  }
  return Buffer.concat(chunks);
}
const TERMINATOR = Buffer.from([0]);
const ESCAPE = 0x01;

function escapeString(bytes: Buffer): Buffer {
  if (!bytes.includes(0) && !bytes.includes(ESCAPE)) return bytes;
  const out: number[] = [];
  for (const b of bytes) {
    if (b === 0) out.push(ESCAPE, 0x01);
    else if (b === ESCAPE) out.push(ESCAPE, 0x02);
    else out.push(b);
  }
  return Buffer.from(out);
}

function unescapeString(bytes: Buffer): Buffer {
  if (!bytes.includes(ESCAPE)) return bytes;
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b !== ESCAPE) {
      out.push(b);
      continue;
    }
    const next = bytes[++i];
    if (next === 0x01) out.push(0);
    else if (next === 0x02) out.push(ESCAPE);
    else throw new Error('malformed tuple key: bad escape');
  }
  return Buffer.from(out);
}

/** Splits the leading strings off a tuple key (the inverse of `tuple` for its string parts). */
export function splitStrings(key: Uint8Array, count: number): { strings: string[]; rest: Buffer } {
  const buf = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  const strings: string[] = [];
  let start = 0;
  for (let i = 0; i < count; i++) {
    const end = buf.indexOf(0, start);
    if (end < 0) throw new Error('malformed tuple key');
    strings.push(unescapeString(buf.subarray(start, end)).toString('utf8'));
    start = end + 1;
  }
  return { strings, rest: buf.subarray(start) };
}

/** Range bounds covering every key that starts with `prefix`. */
export function prefixRange(prefix: Buffer): { gte: Buffer; lt?: Buffer } {
  // The smallest key greater than every key with this prefix: drop trailing 0xff bytes, bump the last.
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return { gte: prefix };
  const lt = Buffer.from(prefix.subarray(0, end));
  lt[end - 1]! += 1;
  return { gte: prefix, lt };
}

export function encodeJson(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), 'utf8');
}

export function decodeJson<T>(value: Uint8Array): T {
  return JSON.parse(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8')) as T;
}
