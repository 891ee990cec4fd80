/**
 * The body of authenticated federation media downloads (server-server "Content Repository",
 * `GET /_matrix/federation/v1/media/download/{mediaId}`): `multipart/mixed` with two parts, the
 * media's JSON metadata (`{}` today) and then either the bytes with their own `Content-Type` (and
 * `Content-Disposition`), or a `Location` header to fetch them from. Pure.
 */
import type { JsonObject } from '../../core/types.js';

export interface MediaPart {
  contentType: string;
  contentDisposition?: string;
  body: Buffer;
}

export type ParsedMediaResponse = { metadata: JsonObject; media: MediaPart } | { metadata: JsonObject; location: string };

const CRLF = '\r\n';

/** The head of a multipart body before the media bytes, and its tail after them. */
export function multipartFrame(boundary: string, part: { contentType: string; contentDisposition?: string; length: number }): { head: Buffer; tail: Buffer } {
  const headers = [`Content-Type: ${part.contentType}`];
  if (part.contentDisposition) headers.push(`Content-Disposition: ${part.contentDisposition}`);
  const head = `--${boundary}${CRLF}Content-Type: application/json${CRLF}${CRLF}{}${CRLF}--${boundary}${CRLF}${headers.join(CRLF)}${CRLF}${CRLF}`;
  return { head: Buffer.from(head, 'utf8'), tail: Buffer.from(`${CRLF}--${boundary}--${CRLF}`, 'utf8') };
}

function splitHeaders(part: Buffer): { headers: Map<string, string>; body: Buffer } | undefined {
  const end = part.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const headers = new Map<string, string>();
  for (const line of part.subarray(0, end).toString('utf8').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { headers, body: part.subarray(end + 4) };
}

/**
 * Parses a federation media answer. The boundary is read from the body's first line (RFC 2046:
 * the body starts with the first delimiter), so the response headers are not needed.
 */
export function parseMediaResponse(body: Buffer): ParsedMediaResponse {
  // A preamble may precede the first delimiter (RFC 2046 5.1.1); Synapse starts with a CRLF.
  const startsWithDelimiter = body.subarray(0, 2).toString('latin1') === '--';
  const preambleEnd = startsWithDelimiter ? -2 : body.indexOf('\r\n--');
  if (preambleEnd === -1) throw new Error('not a multipart body');
  const bytes = body.subarray(preambleEnd + 2);
  const firstLineEnd = bytes.indexOf('\r\n');
  if (firstLineEnd < 3 || bytes[0] !== 0x2d || bytes[1] !== 0x2d) throw new Error('not a multipart body');
  const boundary = bytes.subarray(2, firstLineEnd).toString('latin1');
  if (boundary.length === 0 || boundary.length > 70) throw new Error('bad multipart boundary');
  const delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  const parts: Buffer[] = [];
  let start = firstLineEnd + 2;
  for (;;) {
    const next = bytes.indexOf(delimiter, start);
    if (next < 0) throw new Error('unterminated multipart body');
    parts.push(bytes.subarray(start, next));
    const after = next + delimiter.length;
    if (bytes.subarray(after, after + 2).toString('latin1') === '--') break;
    start = after + 2;
    if (parts.length > 2) throw new Error('too many multipart parts');
  }
  if (parts.length !== 2) throw new Error(`expected 2 multipart parts, got ${parts.length}`);
  const meta = splitHeaders(parts[0]!);
  const media = splitHeaders(parts[1]!);
  if (!meta || !media) throw new Error('malformed multipart part');
  let metadata: JsonObject;
  try {
    const parsed = JSON.parse(meta.body.toString('utf8')) as unknown;
    metadata = parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as JsonObject) : {};
  } catch {
    throw new Error('media metadata is not JSON');
  }
  const location = media.headers.get('location');
  if (location) return { metadata, location };
  const contentType = media.headers.get('content-type') ?? 'application/octet-stream';
  const disposition = media.headers.get('content-disposition');
  return { metadata, media: { contentType, ...(disposition ? { contentDisposition: disposition } : {}), body: media.body } };
}

/** The file name of a `Content-Disposition` value (`filename*=utf-8''...` or `filename="..."`). */
export function fileNameOf(disposition: string | undefined): string | undefined {
  if (!disposition) return undefined;
  const extended = /filename\*=utf-8''([^;]+)/i.exec(disposition);
  if (extended) {
    try {
      return decodeURIComponent(extended[1]!);
    } catch {
      return undefined;
    }
  }
  return /filename="?([^";]+)"?/i.exec(disposition)?.[1];
}
