/**
 * Relationships between events (client-server "Forming relationships between events"): what an
 * event's `m.relates_to` says, which relations are valid, and the rules the server's aggregations
 * follow. Pure: the store and the engine decide what to do with the answers.
 */
import type { JsonObject, Pdu } from './types.js';

export const REL_THREAD = 'm.thread';
export const REL_REPLACE = 'm.replace';
export const REL_ANNOTATION = 'm.annotation';
export const REL_REFERENCE = 'm.reference';

/** A child's relation to its parent, as the cleartext `m.relates_to` states it. */
export interface Relation {
  relType: string;
  /** The parent event. */
  eventId: string;
  /** For `m.annotation`: the annotation key (client-server "Event annotations and reactions"). */
  key?: string;
}

/**
 * The relation of an event with this content, or undefined. Replies (`m.in_reply_to` without a
 * `rel_type`) are not relations the server aggregates. Relations that break the schema "are simply
 * ignored" (client-server "Forming relationships between events"): no rel_type, a non-string
 * event id, or an event id that is not one.
 */
export function relationOf(content: JsonObject): Relation | undefined {
  const relatesTo = content['m.relates_to'];
  if (typeof relatesTo !== 'object' || relatesTo === null || Array.isArray(relatesTo)) return undefined;
  const { rel_type: relType, event_id: eventId, key } = relatesTo as JsonObject;
  if (typeof relType !== 'string' || relType.length === 0) return undefined;
  if (typeof eventId !== 'string' || !eventId.startsWith('$')) return undefined;
  const relation: Relation = { relType, eventId };
  if (relType === REL_ANNOTATION && typeof key === 'string') relation.key = key;
  return relation;
}

/** Why a client may not send this relation (client-server "Threading", "Server behaviour"), or undefined. */
export function relationRefusal(relation: Relation, parent: Pdu, parentRoomId: string, roomId: string): string | undefined {
  if (parentRoomId !== roomId) return 'Relations must be in the same room';
  if (relation.relType === REL_THREAD && relationOf(parent.content) !== undefined) {
    // "It is not possible to create a thread from an event which itself is the child of an event relationship".
    return 'Cannot start threads from an event with a relation';
  }
  return undefined;
}

/**
 * Whether `edit` may replace `original` (client-server "Event replacements", "Validity of
 * replacement events"): same sender, same type, neither a state event, and the original not itself
 * a replacement. Encrypted replacements carry `m.new_content` inside the ciphertext, so only
 * unencrypted ones are checked for it.
 */
export function isValidReplacement(original: Pdu, edit: Pdu): boolean {
  if (original.sender !== edit.sender) return false;
  if (original.type !== edit.type) return false;
  if (original.state_key !== undefined || edit.state_key !== undefined) return false;
  if (relationOf(original.content)?.relType === REL_REPLACE) return false;
  if (edit.type !== 'm.room.encrypted') {
    const newContent = edit.content['m.new_content'];
    if (typeof newContent !== 'object' || newContent === null || Array.isArray(newContent)) return false;
  }
  return true;
}

/**
 * The most recent of several replacements (client-server "Server-side aggregation of m.replace
 * relationships"): the greatest `origin_server_ts`, ties to the lexicographically largest event id.
 */
export function newerReplacement<T extends { eventId: string; originServerTs: number }>(a: T, b: T): T {
  if (a.originServerTs !== b.originServerTs) return a.originServerTs > b.originServerTs ? a : b;
  return a.eventId > b.eventId ? a : b;
}
