/**
 * Which format a Client-Server request is answered in (MSC3079, "JSON -> CBOR"). Pure: headers in,
 * a choice out.
 *
 * - CBOR when the client asks for it in `Accept` (`application/cbor`, q > 0), or when it sent a
 *   CBOR body and its `Accept` does not limit the answer to JSON ("servers MUST set the
 *   Content-Type header to application/cbor when responding with CBOR to requests"; "MUST NOT
 *   respond to requests with Content-Type: application/json with CBOR, unless the Accept header
 *   includes application/cbor").
 * - Integer keys (the MSC's key table) only for a client that speaks them: the MSC negotiates the
 *   table version with a CoAP option; over HTTP the same number rides on the media type, as
 *   `application/cbor; cbor_enum_version=1` in `Accept` or `Content-Type`. A client that wrote
 *   integer keys in its body gets them too (the MSC: then "Version 1 MUST be assumed"); the body
 *   parser reports that separately.
 */
export const CBOR_MEDIA_TYPE = 'application/cbor';

export interface ResponseFormat {
  cbor: boolean;
  /** Write the key table's keys as integers (only with `cbor`). */
  integerKeys: boolean;
}

interface MediaRange {
  type: string;
  params: Map<string, string>;
  q: number;
}

export function negotiateResponseFormat(contentType: string | undefined, accept: string | undefined): ResponseFormat {
  const sent = contentType === undefined ? undefined : parseMediaRanges(contentType)[0];
  const sentCbor = sent?.type === CBOR_MEDIA_TYPE;
  const ranges = accept === undefined ? [] : parseMediaRanges(accept);
  const acceptedCbor = ranges.find((r) => r.type === CBOR_MEDIA_TYPE && r.q > 0);
  const limitedToJson = ranges.length > 0 && !ranges.some((r) => r.q > 0 && (r.type === CBOR_MEDIA_TYPE || r.type === '*/*' || r.type === 'application/*'));
  const cbor = acceptedCbor !== undefined || (sentCbor && !limitedToJson);
  if (!cbor) return { cbor: false, integerKeys: false };
  const asked = [acceptedCbor, sentCbor ? sent : undefined].some((r) => speaksKeyTable(r));
  return { cbor: true, integerKeys: asked };
}

/** Whether a media type names a CBOR body (the request body parser is chosen by it). */
export function isCborMediaType(contentType: string | undefined): boolean {
  return contentType !== undefined && parseMediaRanges(contentType)[0]?.type === CBOR_MEDIA_TYPE;
}

function speaksKeyTable(range: MediaRange | undefined): boolean {
  const version = Number(range?.params.get('cbor_enum_version'));
  // Versions only ever add keys: a client of a later table reads the integers of ours.
  return Number.isInteger(version) && version >= 1;
}

/** RFC 9110 section 12.5.1 media ranges, leniently: type, parameters, q (1 when absent or unreadable). */
function parseMediaRanges(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of header.split(',')) {
    const [type, ...rawParams] = part.split(';');
    const name = type?.trim().toLowerCase();
    if (!name) continue;
    const params = new Map<string, string>();
    for (const raw of rawParams) {
      const eq = raw.indexOf('=');
      if (eq > 0) params.set(raw.slice(0, eq).trim().toLowerCase(), raw.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
    }
    const q = params.has('q') ? Number(params.get('q')) : 1;
    ranges.push({ type: name, params, q: Number.isFinite(q) ? q : 1 });
  }
  return ranges;
}
