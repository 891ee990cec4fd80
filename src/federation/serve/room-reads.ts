/**
 * Answering other servers' pulls of room data (server-server "Retrieving events", "Backfilling and
 * retrieving missing events", "Room State"): `event`, `state`, `state_ids`, `event_auth`,
 * `backfill`, `get_missing_events`.
 *
 * Only servers in the room see its events (server-server "Authorization": history visibility for
 * servers): a server with a joined member, or any server for a world-readable room. Outliers,
 * rejected and soft-failed events are never served as timeline history.
 */
import { ErrCode, MatrixError, forbidden, notFound } from '../../core/errors.js';
import { serverNameOf } from '../../core/identifiers.js';
import { stateKey, type JsonObject } from '../../core/types.js';
import type { RoomEngine, StoredEvent } from '../../rooms/engine.js';
import { referencedEventIds as referencedIds } from '../../core/event-references.js';
import { isServerAllowedByAcl } from '../send/server-acl.js';
import { roomFederates } from '../../state/room-state.js';

/** Bounds on what one pull may make us read. */
const MAX_BACKFILL = 100;
const MAX_MISSING = 20;
const MAX_CHAIN = 50_000;

/** Every event reachable through `auth_events` from `ids` (not counting those themselves unless reached). */
export async function authChainOf(engine: RoomEngine, ids: readonly string[]): Promise<StoredEvent[]> {
  const seen = new Map<string, StoredEvent>();
  const pending: string[] = [];
  for (const id of ids) {
    const event = await engine.getEvent(id);
    if (event) pending.push(...referencedIds(event.pdu.auth_events));
  }
  while (pending.length > 0 && seen.size < MAX_CHAIN) {
    const id = pending.pop()!;
    if (seen.has(id)) continue;
    const event = await engine.getEvent(id);
    if (!event) continue;
    seen.set(id, event);
    pending.push(...referencedIds(event.pdu.auth_events));
  }
  return [...seen.values()];
}

export class RoomReads {
  constructor(private readonly engine: RoomEngine, private readonly serverName: string) {}

  /** 403 unless `origin` may read the room now (a joined member, or the room is world-readable). */
  async requireServerInRoom(origin: string, roomId: string): Promise<void> {
    const room = this.engine.room(roomId);
    if (!room || !this.engine.headOf(roomId)?.extremities.length) throw notFound(`Unknown room ${roomId}`);
    const state = await this.engine.currentState(roomId);
    if (!roomFederates(state)) throw forbidden('This room does not federate');
    const acl = state.get(stateKey('m.room.server_acl', ''))?.pdu.content;
    if (acl && !isServerAllowedByAcl(origin, acl)) throw forbidden(`${origin} is denied by the room's server ACL`);
    const visibility = state.get(stateKey('m.room.history_visibility', ''))?.pdu.content.history_visibility;
    if (visibility === 'world_readable') return;
    for (const event of state.values()) {
      if (event.pdu.type === 'm.room.member' && event.pdu.content.membership === 'join' && serverNameOf(event.pdu.state_key ?? '') === origin) return;
    }
    throw forbidden(`${origin} is not in room ${roomId}`);
  }

  /** `GET /event/{eventId}`: a transaction holding the one PDU. */
  async event(origin: string, eventId: string): Promise<JsonObject> {
    const event = await this.engine.getEvent(eventId);
    if (!event || event.meta.status === 'rejected') throw notFound(`Unknown event ${eventId}`);
    await this.requireServerInRoom(origin, event.room_id);
    return this.transaction([event]);
  }

  /** `GET /state_ids/{roomId}?event_id=`: the state before the event and its auth chain, by id. */
  async stateIds(origin: string, roomId: string, eventId: string): Promise<JsonObject> {
    const { state, chain } = await this.stateAt(origin, roomId, eventId);
    return { pdu_ids: state.map((e) => e.event_id), auth_chain_ids: chain.map((e) => e.event_id) };
  }

  /** `GET /state/{roomId}?event_id=`: the same with the events. */
  async state(origin: string, roomId: string, eventId: string): Promise<JsonObject> {
    const { state, chain } = await this.stateAt(origin, roomId, eventId);
    return { pdus: state.map((e) => e.pdu as unknown as JsonObject), auth_chain: chain.map((e) => e.pdu as unknown as JsonObject) };
  }

  /** `GET /event_auth/{roomId}/{eventId}`: the auth chain of an event. */
  async eventAuth(origin: string, roomId: string, eventId: string): Promise<JsonObject> {
    await this.requireServerInRoom(origin, roomId);
    const event = await this.engine.getEvent(eventId);
    if (!event || event.room_id !== roomId) throw notFound(`Unknown event ${eventId}`);
    const chain = await authChainOf(this.engine, [eventId]);
    return { auth_chain: chain.map((e) => e.pdu as unknown as JsonObject) };
  }

  /** `GET /backfill/{roomId}?v=&limit=`: events before (and including) the given ones, newest first, walking prev_events. */
  async backfill(origin: string, roomId: string, from: string[], limit: number): Promise<JsonObject> {
    await this.requireServerInRoom(origin, roomId);
    const bound = clamp(limit, 1, MAX_BACKFILL);
    const out: StoredEvent[] = [];
    const seen = new Set<string>();
    let frontier = from.slice(0, 20);
    while (frontier.length > 0 && out.length < bound) {
      const next: StoredEvent[] = [];
      for (const id of frontier) {
        if (seen.has(id)) continue;
        seen.add(id);
        const event = await this.engine.getEvent(id);
        if (!event || event.room_id !== roomId || event.meta.status !== undefined) continue;
        next.push(event);
      }
      next.sort((a, b) => b.pdu.depth - a.pdu.depth);
      for (const event of next) if (out.length < bound) out.push(event);
      frontier = next.flatMap((e) => referencedIds(e.pdu.prev_events));
    }
    return this.transaction(out);
  }

  /**
   * `POST /get_missing_events/{roomId}`: walking back from `latest_events` through prev_events,
   * stopping at `earliest_events` and below `min_depth`, at most `limit`, oldest first.
   */
  async missingEvents(origin: string, roomId: string, body: unknown): Promise<JsonObject> {
    await this.requireServerInRoom(origin, roomId);
    const b = (body ?? {}) as { earliest_events?: unknown; latest_events?: unknown; limit?: unknown; min_depth?: unknown };
    if (!Array.isArray(b.earliest_events) || !Array.isArray(b.latest_events)) throw new MatrixError(400, ErrCode.BAD_JSON, 'earliest_events and latest_events are required');
    const earliest = new Set(b.earliest_events.filter((x): x is string => typeof x === 'string'));
    const limit = clamp(typeof b.limit === 'number' ? b.limit : 10, 1, MAX_MISSING);
    const minDepth = typeof b.min_depth === 'number' ? b.min_depth : 0;
    const out: StoredEvent[] = [];
    const seen = new Set<string>(earliest);
    let frontier: string[] = [];
    for (const id of b.latest_events.slice(0, 20)) {
      if (typeof id !== 'string') continue;
      const event = await this.engine.getEvent(id);
      if (event) frontier.push(...referencedIds(event.pdu.prev_events));
    }
    while (frontier.length > 0 && out.length < limit) {
      const next: string[] = [];
      for (const id of frontier) {
        if (seen.has(id) || out.length >= limit) continue;
        seen.add(id);
        const event = await this.engine.getEvent(id);
        if (!event || event.room_id !== roomId || event.meta.status !== undefined || event.pdu.depth < minDepth) continue;
        out.push(event);
        next.push(...referencedIds(event.pdu.prev_events));
      }
      frontier = next;
    }
    out.sort((a, b) => a.pdu.depth - b.pdu.depth);
    return { events: out.map((e) => e.pdu as unknown as JsonObject) };
  }

  private async stateAt(origin: string, roomId: string, eventId: string): Promise<{ state: StoredEvent[]; chain: StoredEvent[] }> {
    await this.requireServerInRoom(origin, roomId);
    const event = await this.engine.getEvent(eventId);
    if (!event || event.room_id !== roomId || event.meta.status === 'outlier' || event.meta.status === 'rejected') throw notFound(`Unknown event ${eventId}`);
    const state = [...(await this.engine.loadSnapshot(event.meta.stateBefore)).values()];
    const chain = await authChainOf(this.engine, state.map((e) => e.event_id));
    return { state, chain };
  }

  private transaction(events: StoredEvent[]): JsonObject {
    return { origin: this.serverName, origin_server_ts: Date.now(), pdus: events.map((e) => e.pdu as unknown as JsonObject) };
  }
}

function clamp(value: number, min: number, max: number): number {
  if (!Number.isFinite(value)) return min;
  return Math.max(min, Math.min(max, Math.floor(value)));
}
