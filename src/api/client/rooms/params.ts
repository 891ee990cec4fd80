/** Small validators for path, query and body parameters shared by the room routes. */
import type { JsonObject } from '../../../core/types.js';
import { ErrCode, MatrixError, badJson } from '../../../core/errors.js';
import { validateEventFilter, validateFilter, type EventFilter, type SyncFilter } from '../../../rooms/filter.js';
import { hadNonIntegerLiteral } from '../../../http/json-body.js';
import { MAX_JSON_DEPTH, scanJsonText } from '../../../core/json-text.js';

export function requireObjectBody(body: unknown): JsonObject {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badJson('Body must be a JSON object');
  }
  return body as JsonObject;
}

/**
 * A body that becomes event content (PUT /send, PUT /state, POST /createRoom): an object whose text
 * wrote no number as a float. Canonical JSON has integers only (rooms fragment v6-canonical-json:
 * 400 M_BAD_JSON on the Client-Server API), and `1.0` parses as 1, so the text decides
 * (http/json-body.ts); the engine checks the rest of canonical JSON on the content itself.
 */
export function requireEventContentBody(body: unknown): JsonObject {
  const object = requireObjectBody(body);
  if (hadNonIntegerLiteral(body)) throw badJson('Bad JSON value: float (event content allows integers only)');
  return object;
}

export function optionalString(body: JsonObject, key: string): string | undefined {
  const v = body[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badJson(`${key} must be a string`);
  return v;
}

export function requireString(body: JsonObject, key: string): string {
  const v = optionalString(body, key);
  if (v === undefined) throw new MatrixError(400, ErrCode.MISSING_PARAM, `Missing ${key}`);
  return v;
}

export function intQuery(raw: unknown, name: string, def: number, max: number): number {
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new MatrixError(400, ErrCode.INVALID_PARAM, `${name} must be a non-negative integer`);
  return Math.min(n, max);
}

/**
 * A filter given inline as JSON or by id (client-server "Filtering"). An inline filter is checked by
 * `validate` (a whole filter for /sync): a known field of the wrong type is 400 M_BAD_JSON.
 */
export async function resolveFilter(
  raw: unknown,
  userId: string,
  getFilter: (userId: string, id: string) => Promise<SyncFilter | undefined>,
  validate: (parsed: unknown) => SyncFilter = validateFilter,
): Promise<SyncFilter> {
  if (raw === undefined || raw === '') return {};
  if (typeof raw !== 'string') throw new MatrixError(400, ErrCode.INVALID_PARAM, 'filter must be a string');
  if (raw.trimStart().startsWith('{')) {
    let parsed: unknown;
    // The same limits as bodies (core/json-text.ts): bounded nesting, valid Unicode.
    const facts = scanJsonText(raw);
    if (facts.tooDeep) throw badJson(`filter nested deeper than ${MAX_JSON_DEPTH} levels`);
    if (facts.loneSurrogate) throw new MatrixError(400, ErrCode.NOT_JSON, 'filter holds a lone surrogate');
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new MatrixError(400, ErrCode.NOT_JSON, 'filter is not valid JSON');
    }
    try {
      return validate(parsed);
    } catch (err) {
      throw badJson(`Invalid filter: ${(err as Error).message}`);
    }
  }
  const stored = await getFilter(userId, raw);
  if (!stored) throw new MatrixError(404, ErrCode.NOT_FOUND, `No filter ${raw}`);
  return stored;
}

/**
 * A RoomEventFilter (`/messages`, `/context`): given inline it is checked as a RoomEventFilter (not
 * as a whole filter); a stored one is checked again as one (`types: [true]` had reached the glob
 * match and was a 500; found by the fuzzer).
 */
export async function resolveEventFilter(
  raw: unknown,
  userId: string,
  getFilter: (userId: string, id: string) => Promise<SyncFilter | undefined>,
): Promise<EventFilter> {
  const asEventFilter = (parsed: unknown) => (validateEventFilter(parsed, 'filter') ?? {}) as SyncFilter;
  const filter = await resolveFilter(raw, userId, getFilter, asEventFilter);
  try {
    return validateEventFilter(filter, 'filter') ?? {};
  } catch (err) {
    throw badJson(`Invalid filter: ${(err as Error).message}`);
  }
}
