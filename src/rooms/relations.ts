/**
 * Reading relations for clients (client-server "Aggregations of child events", "Relationships
 * API", "Querying threads in a room"). The index is storage/relations.ts; the rules are
 * core/relations.ts. Children that are redacted ("the relationship is broken") or that the user may
 * not see (history visibility) count for nothing anywhere.
 */
import { REL_REFERENCE, REL_REPLACE, REL_THREAD, isValidReplacement, newerReplacement, relationOf } from '../core/relations.js';
import type { RelationEntry, RoomEngine, StoredEvent, ThreadEntry } from './engine.js';
import type { RoomReader } from './visibility.js';

export type { RelationEntry, ThreadEntry };

/** What the server aggregates for one parent, before formatting. */
export interface Aggregations {
  /** client-server "Server-side aggregation of m.thread relationships". */
  thread?: { latest: StoredEvent; count: number; currentUserParticipated: boolean };
  /** client-server "Server-side aggregation of m.replace relationships": the most recent valid edit. */
  replace?: StoredEvent;
  /** client-server "Server-side aggregation of m.reference". */
  references?: string[];
}

/** client-server "Relationships API": "Homeservers SHOULD traverse at least 3 levels". */
export const RECURSION_DEPTH = 3;
/** Bound on the children one relations request examines (a parent with thousands of reactions). */
const MAX_CHILDREN_SCANNED = 5000;

export interface ChildQuery {
  relType?: string;
  eventType?: string;
  recurse: boolean;
}

export class RelationReader {
  constructor(private readonly engine: RoomEngine) {}

  /** The aggregations bundled with `parent` for `userId`, or undefined when there are none. */
  async aggregate(parent: StoredEvent, userId: string | undefined, reader: RoomReader | undefined): Promise<Aggregations | undefined> {
    // "State events do not currently receive bundled aggregations."
    if (!parent.meta.related || parent.pdu.state_key !== undefined) return undefined;
    const out: Aggregations = {};
    let threadCount = 0;
    let participated = parent.pdu.sender === userId;
    let latest: StoredEvent | undefined;
    for (const entry of await this.engine.relationChildren(parent.short, { dir: 'f', limit: MAX_CHILDREN_SCANNED })) {
      if (entry.relType !== REL_THREAD && entry.relType !== REL_REPLACE && entry.relType !== REL_REFERENCE) continue;
      const child = await this.visibleChild(entry, reader);
      if (!child) continue;
      if (entry.relType === REL_THREAD) {
        threadCount++;
        latest = child;
        if (entry.sender === userId) participated = true;
      } else if (entry.relType === REL_REPLACE) {
        // "If the original event is redacted, any m.replace relationship should not be bundled with it."
        if (parent.meta.redactedBy || !isValidReplacement(parent.pdu, child.pdu)) continue;
        out.replace = out.replace ? pickNewer(out.replace, child) : child;
      } else {
        (out.references ??= []).push(child.event_id);
      }
    }
    if (latest) out.thread = { latest, count: threadCount, currentUserParticipated: participated };
    return out.thread || out.replace || out.references ? out : undefined;
  }

  /**
   * The children of `parent` matching the query, oldest first. With `recurse`, also their children
   * through matching events, down to RECURSION_DEPTH levels ("Events that would match the filter,
   * but whose only relation to the original given event is through a non-matching intermediate
   * event, will not be included").
   */
  async matchingDescendants(parent: StoredEvent, query: ChildQuery): Promise<RelationEntry[]> {
    const out: RelationEntry[] = [];
    let level: number[] = [parent.short];
    const seen = new Set<number>(level);
    for (let depth = 1; depth <= (query.recurse ? RECURSION_DEPTH : 1) && level.length > 0; depth++) {
      const next: number[] = [];
      for (const short of level) {
        // Only parents with children have entries; the mark saves a read per leaf.
        if (short !== parent.short && !(await this.engine.eventByShort(short))?.meta.related) continue;
        for (const entry of await this.engine.relationChildren(short, { dir: 'f', limit: MAX_CHILDREN_SCANNED })) {
          if (query.relType !== undefined && entry.relType !== query.relType) continue;
          if (query.eventType !== undefined && entry.type !== query.eventType) continue;
          if (seen.has(entry.childShort)) continue;
          seen.add(entry.childShort);
          out.push(entry);
          next.push(entry.childShort);
          if (out.length >= MAX_CHILDREN_SCANNED) return out.sort(byStream);
        }
      }
      level = next;
    }
    return out.sort(byStream);
  }

  /** Whether `userId` took part in the thread rooted at `root` (its sender, or a reply's). */
  async participated(root: StoredEvent, userId: string): Promise<boolean> {
    if (root.pdu.sender === userId) return true;
    for (const entry of await this.engine.relationChildren(root.short, { dir: 'f', limit: MAX_CHILDREN_SCANNED })) {
      if (entry.relType === REL_THREAD && entry.sender === userId) return true;
    }
    return false;
  }

  /** A room's threads, most recently active first, after the thread-list position `before`. */
  threads(roomShort: number, opts: { before?: ThreadEntry; limit: number }): Promise<ThreadEntry[]> {
    return this.engine.threads(roomShort, opts);
  }

  /** The child of an index entry, unless redacted or hidden from the reader. */
  async visibleChild(entry: RelationEntry, reader: RoomReader | undefined): Promise<StoredEvent | undefined> {
    const child = await this.engine.eventByShort(entry.childShort);
    if (!child || child.meta.redactedBy) return undefined;
    if (reader && !(await reader.canSee(child))) return undefined;
    return child;
  }
}

function byStream(a: RelationEntry, b: RelationEntry): number {
  return a.stream - b.stream;
}

function pickNewer(a: StoredEvent, b: StoredEvent): StoredEvent {
  const pick = newerReplacement(
    { eventId: a.event_id, originServerTs: a.pdu.origin_server_ts, event: a },
    { eventId: b.event_id, originServerTs: b.pdu.origin_server_ts, event: b },
  );
  return pick.event;
}

/** The main timeline's thread id in threaded receipts and counts (client-server "Threaded read receipts"). */
export const MAIN_THREAD = 'main';

/**
 * The thread an event belongs to (client-server "Receiving notifications"): the root of its
 * `m.thread` relation, or, for other relations (edits, reactions), the thread of the event they
 * relate to, following at most 3 hops; `main` otherwise.
 */
export async function threadIdOf(event: Pick<StoredEvent, 'pdu'>, getEvent: (id: string) => Promise<StoredEvent | undefined>): Promise<string> {
  let current: Pick<StoredEvent, 'pdu'> | undefined = event;
  for (let hop = 0; hop < 3 && current; hop++) {
    const relation = relationOf(current.pdu.content);
    if (!relation) return MAIN_THREAD;
    if (relation.relType === REL_THREAD) return relation.eventId;
    current = await getEvent(relation.eventId);
  }
  return MAIN_THREAD;
}

/** Thread-list tokens: the position of the last thread returned (`<latest>_<root short>`). */
export function formatThreadToken(entry: ThreadEntry): string {
  return `h${entry.latest}_${entry.rootShort}`;
}

export function parseThreadToken(raw: string): ThreadEntry | undefined {
  const m = /^h(-?\d{1,15})_(\d{1,15})$/.exec(raw);
  return m ? { latest: Number(m[1]), rootShort: Number(m[2]) } : undefined;
}
