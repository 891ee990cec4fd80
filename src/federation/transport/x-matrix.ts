/**
 * X-Matrix request authentication (server-server "Request Authentication"), pure: the JSON a
 * request signature covers, the `Authorization: X-Matrix ...` header written and parsed, and the
 * signature checked against an already-looked-up key. No I/O: the guard (`request-auth.ts`) and the
 * client (`client.ts`) bring the keys and the requests.
 */
import { verifyJsonSignature, signJson } from '../../core/signing.js';
import { isValidServerName } from '../../core/identifiers.js';
import type { SigningKey } from '../../core/types.js';

/** The parameters of an X-Matrix header. */
export interface XMatrixAuth {
  origin: string;
  /** Optional on receipt for older servers (added in v1.3); always sent. */
  destination?: string;
  /** Key id with its algorithm, `ed25519:abc`. */
  key: string;
  /** Unpadded base64 signature. */
  sig: string;
}

/** What a request signature covers (step 1): method, target with its query, both names, the body. */
export interface SignedRequest {
  method: string;
  /** The full path from `/_matrix/...`, with `?` and the query when present, as sent on the wire. */
  uri: string;
  origin: string;
  destination: string;
  /** The JSON-parsed request body; absent for requests without one. */
  content?: unknown;
}

function requestJson(request: SignedRequest): Record<string, unknown> {
  const json: Record<string, unknown> = {
    method: request.method,
    uri: request.uri,
    origin: request.origin,
    destination: request.destination,
  };
  if (request.content !== undefined) json.content = request.content;
  return json;
}

/**
 * The Authorization header value for an outgoing request (step 2). Written the way older servers
 * parse: one space after the scheme, lower-case names, no whitespace around commas, quoted values.
 * Server names, key ids and base64 hold no `"` or `\`, so nothing needs escaping.
 */
export function signRequest(request: SignedRequest, key: SigningKey): string {
  const signed = signJson(requestJson(request), request.origin, key);
  const sig = signed.signatures[request.origin]![key.keyId]!;
  return formatXMatrixHeader({ origin: request.origin, destination: request.destination, key: key.keyId, sig });
}

export function formatXMatrixHeader(auth: XMatrixAuth): string {
  const params = [`origin="${auth.origin}"`];
  if (auth.destination !== undefined) params.push(`destination="${auth.destination}"`);
  params.push(`key="${auth.key}"`, `sig="${auth.sig}"`);
  return `X-Matrix ${params.join(',')}`;
}

/** Why a header was refused, for the 401's message. */
export type XMatrixParseResult = { ok: true; auth: XMatrixAuth } | { ok: false; reason: string };

/** RFC 9110 `tchar`, plus `:` which older servers leave unquoted in server names. */
const TOKEN_CHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z:]/;
const MAX_HEADER_LENGTH = 4096;

/**
 * Parses `X-Matrix <params>` per RFC 9110 section 11.4 as the spec summarises it: the scheme
 * (case-insensitive), one or more spaces, then `name=value` pairs separated by commas with optional
 * spaces and tabs around them; names case-insensitive; values a token (colons allowed) or a quoted
 * string whose backslash escapes are undone. Unknown parameters are ignored; a repeated one, a
 * missing `origin`/`key`/`sig`, or a malformed origin/destination refuses the header.
 */
export function parseXMatrixHeader(header: string): XMatrixParseResult {
  if (header.length > MAX_HEADER_LENGTH) return { ok: false, reason: 'Authorization header too long' };
  const scheme = /^X-Matrix +/i.exec(header);
  if (!scheme) return { ok: false, reason: 'Authorization is not X-Matrix' };
  const params = new Map<string, string>();
  let i = scheme[0].length;
  const n = header.length;
  const skipWhitespace = () => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  for (;;) {
    skipWhitespace();
    const nameStart = i;
    while (i < n && TOKEN_CHAR.test(header[i]!) && header[i] !== ':') i++;
    const name = header.slice(nameStart, i).toLowerCase();
    if (name === '' || header[i] !== '=') return { ok: false, reason: 'malformed X-Matrix parameters' };
    i++;
    let value = '';
    if (header[i] === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const c = header[i]!;
        if (c === '\\') {
          if (i + 1 >= n) break;
          value += header[i + 1];
          i += 2;
        } else if (c === '"') {
          closed = true;
          i++;
          break;
        } else {
          value += c;
          i++;
        }
      }
      if (!closed) return { ok: false, reason: 'unterminated quoted value in X-Matrix header' };
    } else {
      const valueStart = i;
      while (i < n && TOKEN_CHAR.test(header[i]!)) i++;
      value = header.slice(valueStart, i);
      if (value === '') return { ok: false, reason: `empty X-Matrix parameter ${name}` };
    }
    if (params.has(name)) return { ok: false, reason: `repeated X-Matrix parameter ${name}` };
    params.set(name, value);
    skipWhitespace();
    if (i >= n) break;
    if (header[i] !== ',') return { ok: false, reason: 'malformed X-Matrix parameters' };
    i++;
  }
  const origin = params.get('origin');
  const key = params.get('key');
  const sig = params.get('sig');
  const destination = params.get('destination');
  if (origin === undefined || key === undefined || sig === undefined) {
    return { ok: false, reason: 'X-Matrix header needs origin, key and sig' };
  }
  if (!isValidServerName(origin)) return { ok: false, reason: 'X-Matrix origin is not a server name' };
  if (destination !== undefined && !isValidServerName(destination)) return { ok: false, reason: 'X-Matrix destination is not a server name' };
  return { ok: true, auth: destination === undefined ? { origin, key, sig } : { origin, destination, key, sig } };
}

/**
 * Whether `auth.sig` is the origin's signature over the request, with `publicKey` the origin's key
 * `auth.key`. `destination` is the receiving server's own name: the signed JSON always names it, so
 * a header that omits it (older servers) is checked as if it named us.
 */
export function verifyRequestSignature(
  auth: XMatrixAuth,
  request: { method: string; uri: string; destination: string; content?: unknown },
  publicKey: Uint8Array,
): boolean {
  const json = requestJson({ ...request, origin: auth.origin });
  json.signatures = { [auth.origin]: { [auth.key]: auth.sig } };
  return verifyJsonSignature(json, auth.origin, auth.key, publicKey);
}
