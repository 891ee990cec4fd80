/**
 * The one JSON body parser: what the listeners accept from a request body and what the federation
 * client accepts from a response, so both sides of a server-server exchange judge JSON alike.
 */
import { ErrCode, MatrixError } from '../core/errors.js';
import { MAX_JSON_DEPTH, scanJsonText } from '../core/json-text.js';

/**
 * Parses a request or response body. Empty -> undefined; otherwise JSON text in UTF-8 (the APIs are
 * JSON-only, whatever the content type says), else 400 M_NOT_JSON. Bytes that are not UTF-8 are
 * refused rather than replaced: a signature over a replaced character would cover other bytes.
 */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  let text: string;
  try {
    text = UTF8.decode(body);
  } catch {
    throw new MatrixError(400, ErrCode.NOT_JSON, 'Content not UTF-8.');
  }
  // Before parsing (core/json-text.ts): a 10,000-level document must not reach a recursive walk.
  const facts = scanJsonText(text);
  if (facts.tooDeep) throw new MatrixError(400, ErrCode.BAD_JSON, `JSON nested deeper than ${MAX_JSON_DEPTH} levels.`);
  // Not Unicode text, as invalid UTF-8 is not: the string could not be encoded to be hashed or sent.
  if (facts.loneSurrogate) throw new MatrixError(400, ErrCode.NOT_JSON, 'Content not JSON: a string holds a lone surrogate.');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new MatrixError(400, ErrCode.NOT_JSON, 'Content not JSON.');
  }
  if (facts.nonIntegerLiteral) markNonIntegerLiteral(value);
  return value;
}

/**
 * Bodies whose text writes some number with a fraction or an exponent. `JSON.parse` turns `1.0`
 * into 1, so this is the only way to know; event content must be canonical JSON (no floats at
 * all), other bodies (account data, filters) may hold them.
 */
const WITH_NON_INTEGER_LITERALS = new WeakSet<object>();

/** Records that a parsed body wrote some number as a float (the CBOR body parser says so too). */
export function markNonIntegerLiteral(body: unknown): void {
  if (body !== null && typeof body === 'object') WITH_NON_INTEGER_LITERALS.add(body);
}

/** Whether a parsed body's text wrote a number as a float (`1.0`, `2e3`, `0.5`). */
export function hadNonIntegerLiteral(body: unknown): boolean {
  return body !== null && typeof body === 'object' && WITH_NON_INTEGER_LITERALS.has(body);
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
