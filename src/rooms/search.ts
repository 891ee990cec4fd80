/**
 * Server-side search over room events (client-server "Server Side Search", `POST /search`,
 * category `room_events`) without a full-text index: an index would add a LevelDB key per word of
 * every message, written on the send path and rewritten by compactions (SD-card wear), for a
 * feature a household uses rarely. Instead a search walks the global stream backwards from the
 * newest event over the user's rooms, reading only searchable event types, and matches words
 * (search-text.ts). One request examines at most {@link MAX_SCANNED} events; `next_batch`
 * continues further back.
 *
 * - `recent`: results newest first; the token is the stream position to continue below.
 * - `rank`: the matches within the examined window ordered by rank (then recency); the token is an
 *   offset into that ordering plus the position the walk started at, so pages stay stable while new
 *   events arrive.
 *
 * Rooms: those the user is joined to, and those they left (up to their leave); encrypted rooms are
 * not searched ("The search will not include rooms that are end to end encrypted"); history
 * visibility and ignored users apply as everywhere else (the timeline reader).
 */
import { stateKey, type JsonObject } from '../core/types.js';
import type { EventFormatter, Viewer } from './client-event.js';
import type { RoomEngine, StoredEvent } from './engine.js';
import { matchesEventFilter, type EventFilter } from './filter.js';
import { rankText, searchableText, searchableTypes, words, type SearchKey } from './search-text.js';
import type { TimelineReader } from './timeline.js';
import { formatPaginationToken } from './tokens.js';
import type { RoomReader } from './visibility.js';
import { BackwardStreamWalk } from './stream-walk.js';

/** Events examined per request at most. */
export const MAX_SCANNED = 20_000;
export const DEFAULT_RESULTS = 10;
export const MAX_RESULTS = 100;

export interface SearchRequest {
  viewer: Viewer;
  term: string;
  keys: ReadonlySet<SearchKey>;
  filter?: EventFilter;
  orderBy: 'rank' | 'recent';
  context?: { before: number; after: number; includeProfile: boolean };
  includeState: boolean;
  groupBy: ('room_id' | 'sender')[];
  nextBatch?: string;
}

export class InvalidSearchToken extends Error {}

interface Hit {
  event: StoredEvent;
  rank: number;
}

export class SearchService {
  constructor(
    private readonly engine: RoomEngine,
    private readonly formatter: EventFormatter,
    private readonly timeline: TimelineReader,
  ) {}

  async search(req: SearchRequest): Promise<JsonObject> {
    const { userId } = req.viewer;
    const termWords = words(req.term);
    const limit = Math.min(req.filter?.limit || DEFAULT_RESULTS, MAX_RESULTS);
    const token = parseSearchToken(req.nextBatch, req.orderBy);

    // The rooms, and how far into each the user may read.
    const readableUpTo = new Map<number, { roomId: string; upTo: number }>();
    for (const m of await this.engine.roomsOf(userId)) {
      if (m.membership !== 'join' && m.membership !== 'leave' && m.membership !== 'ban') continue;
      const room = this.engine.room(m.roomId);
      if (!room || (req.filter && !matchesEventFilter({ rooms: req.filter.rooms, not_rooms: req.filter.not_rooms }, { type: '', sender: '', room_id: m.roomId }))) continue;
      if (await this.engine.stateEvent(m.roomId, 'm.room.encryption', '')) continue;
      readableUpTo.set(room.short, { roomId: m.roomId, upTo: m.membership === 'join' ? Number.MAX_SAFE_INTEGER : m.stream });
    }

    const types = searchableTypes(req.keys);
    const readers = new Map<string, RoomReader>();
    const readerOf = async (roomId: string) => {
      let reader = readers.get(roomId);
      if (!reader) readers.set(roomId, (reader = await this.timeline.readerFor(userId, roomId)));
      return reader;
    };
    const startedAt = token.kind === 'rank' ? token.start : this.engine.notifier.position;
    const wanted = req.orderBy === 'recent' ? limit + 1 : Number.MAX_SAFE_INTEGER;
    const hits: Hit[] = [];
    const walk = new BackwardStreamWalk(this.engine, token.kind === 'recent' ? token.before : startedAt + 1, (short) => readableUpTo.has(short), MAX_SCANNED);
    if (termWords.length > 0 && readableUpTo.size > 0) {
      for await (const event of walk.events()) {
        const room = readableUpTo.get(event.meta.roomShort)!;
        if (event.meta.stream > room.upTo || event.meta.redactedBy || !types.has(event.pdu.type)) continue;
        if (!matchesEventFilter(req.filter, { type: event.pdu.type, sender: event.pdu.sender, content: event.pdu.content })) continue;
        const text = searchableText(event.pdu.type, event.pdu.content, req.keys);
        const rank = text === undefined ? 0 : rankText(termWords, text);
        if (rank === 0 || !(await (await readerOf(room.roomId)).canSee(event))) continue;
        hits.push({ event, rank });
        if (hits.length >= wanted) break;
      }
    }

    let page: Hit[];
    let next: string | undefined;
    let count: number;
    if (req.orderBy === 'recent') {
      page = hits.slice(0, limit);
      count = page.length;
      // Continue just above the first result not returned, or where the walk reached its bound.
      if (hits.length > limit) next = `s${hits[limit]!.event.meta.stream + 1}`;
      else if (walk.resumeBefore !== undefined) next = `s${walk.resumeBefore}`;
    } else {
      hits.sort((a, b) => b.rank - a.rank || b.event.meta.stream - a.event.meta.stream);
      const offset = token.kind === 'rank' ? token.offset : 0;
      page = hits.slice(offset, offset + limit);
      count = hits.length;
      if (offset + limit < hits.length) next = `r${offset + limit}_${startedAt}`;
    }
    return this.respond(req, page, count, next, termWords, readerOf);
  }

  private async respond(
    req: SearchRequest,
    page: Hit[],
    count: number,
    next: string | undefined,
    highlights: string[],
    readerOf: (roomId: string) => Promise<RoomReader>,
  ): Promise<JsonObject> {
    const results: JsonObject[] = [];
    for (const hit of page) {
      const reader = await readerOf(hit.event.room_id);
      const result: JsonObject = { rank: hit.rank, result: (await this.formatter.format(hit.event, req.viewer, { reader })) as unknown as JsonObject };
      if (req.context) result.context = await this.contextOf(hit.event, req, reader);
      results.push(result);
    }
    const roomEvents: JsonObject = { count, highlights: [...new Set(highlights)], results };
    if (next !== undefined) roomEvents.next_batch = next;
    if (req.groupBy.length > 0) {
      const groups: JsonObject = {};
      for (const key of req.groupBy) {
        const byValue: Record<string, { results: string[]; order: number }> = {};
        for (const hit of page) {
          const value = key === 'room_id' ? hit.event.room_id : hit.event.pdu.sender;
          (byValue[value] ??= { results: [], order: Object.keys(byValue).length + 1 }).results.push(hit.event.event_id);
        }
        groups[key] = byValue;
      }
      roomEvents.groups = groups;
    }
    if (req.includeState) {
      const state: JsonObject = {};
      for (const roomId of new Set(page.map((h) => h.event.room_id))) {
        state[roomId] = (await this.formatter.formatAll([...(await this.engine.currentState(roomId)).values()], req.viewer)) as unknown as JsonObject[];
      }
      roomEvents.state = state;
    }
    return { search_categories: { room_events: roomEvents } };
  }

  /** `context` of a result: neighbours the user may see, tokens, and (optionally) senders' profiles at the time. */
  private async contextOf(event: StoredEvent, req: SearchRequest, reader: RoomReader): Promise<JsonObject> {
    const { before, after, includeProfile } = req.context!;
    const upTo = Math.min(await this.timeline.readableUpTo(req.viewer.userId, event.room_id), this.engine.notifier.position);
    const pos = event.meta.stream;
    const older = await this.timeline.page(event.room_id, { from: pos - 1, dir: 'b', limit: before, reader });
    const newer = await this.timeline.page(event.room_id, { from: pos, dir: 'f', limit: after, to: upTo, reader });
    const context: JsonObject = {
      events_before: (await this.formatter.formatAll(older.events, req.viewer, { reader })) as unknown as JsonObject[],
      events_after: (await this.formatter.formatAll(newer.events, req.viewer, { reader })) as unknown as JsonObject[],
      start: formatPaginationToken((older.events[older.events.length - 1]?.meta.stream ?? pos) - 1),
      end: formatPaginationToken(newer.events[newer.events.length - 1]?.meta.stream ?? pos),
    };
    if (includeProfile) {
      const state = await this.engine.stateAt(event, 'after');
      const profiles: JsonObject = {};
      for (const sender of new Set([event, ...older.events, ...newer.events].map((e) => e.pdu.sender))) {
        const member = state.get(stateKey('m.room.member', sender))?.pdu.content;
        const profile: JsonObject = {};
        if (typeof member?.displayname === 'string') profile.displayname = member.displayname;
        if (typeof member?.avatar_url === 'string') profile.avatar_url = member.avatar_url;
        profiles[sender] = profile;
      }
      context.profile_info = profiles;
    }
    return context;
  }
}

type SearchToken = { kind: 'none' } | { kind: 'recent'; before: number } | { kind: 'rank'; offset: number; start: number };

function parseSearchToken(raw: string | undefined, orderBy: 'rank' | 'recent'): SearchToken {
  if (raw === undefined) return { kind: 'none' };
  const recent = /^s(\d{1,15})$/.exec(raw);
  if (recent && orderBy === 'recent') return { kind: 'recent', before: Number(recent[1]) };
  const rank = /^r(\d{1,9})_(\d{1,15})$/.exec(raw);
  if (rank && orderBy === 'rank') return { kind: 'rank', offset: Number(rank[1]), start: Number(rank[2]) };
  throw new InvalidSearchToken('Unknown next_batch token (or order_by changed)');
}

