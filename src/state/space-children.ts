/**
 * Children of a space (client-server "Spaces", "m.space.child relationship" and "Ordering of
 * children within a space"). Pure: which `m.space.child` events count, and their order.
 */
import type { JsonObject } from '../core/types.js';

export interface SpaceChild {
  /** The child room (the event's state key). */
  roomId: string;
  content: JsonObject;
  originServerTs: number;
}

/** "Children where `via` is not present or invalid are not considered children." */
export function isValidSpaceChild(content: JsonObject): boolean {
  const via = content.via;
  return Array.isArray(via) && via.length > 0 && via.every((v) => typeof v === 'string');
}

/** m.space.child `order`: ASCII 0x20-0x7E, at most 50 characters; otherwise treated as absent. */
export function orderOf(content: JsonObject): string | undefined {
  const order = content.order;
  return typeof order === 'string' && order.length > 0 && order.length <= 50 && /^[\x20-\x7E]+$/.test(order) ? order : undefined;
}

/**
 * The spec's order: children with a valid `order` first, by code point; then the rest by the
 * event's `origin_server_ts`; ties by timestamp, then by room id.
 */
export function orderSpaceChildren<T extends SpaceChild>(children: readonly T[]): T[] {
  return [...children].sort((a, b) => {
    const oa = orderOf(a.content);
    const ob = orderOf(b.content);
    if (oa !== undefined && ob === undefined) return -1;
    if (oa === undefined && ob !== undefined) return 1;
    // The order strings are ASCII, so UTF-16 comparison is code point comparison.
    if (oa !== undefined && ob !== undefined && oa !== ob) return oa < ob ? -1 : 1;
    if (a.originServerTs !== b.originServerTs) return a.originServerTs - b.originServerTs;
    return a.roomId < b.roomId ? -1 : a.roomId > b.roomId ? 1 : 0;
  });
}
