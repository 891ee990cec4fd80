/**
 * The one JSON body parser: what the listeners accept from a request body and what the federation
 * client accepts from a response, so both sides of a server-server exchange judge JSON alike.
 */
import { ErrCode, MatrixError } from '../core/errors.js';

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
  try {
    return JSON.parse(text);
  } catch {
    throw new MatrixError(400, ErrCode.NOT_JSON, 'Content not JSON.');
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
