/**
 * Pulling what we missed (issue 12 "Coming back"): after our own downtime, or when a server we
 * could not reach answers again, ask it for its forward extremities in each room we share; each
 * one we lack is fetched (`GET /event`) and handed to the PDU handler like a pushed PDU, whose
 * `get_missing_events` walk fills the gap back to what we have, in order, before it is placed.
 *
 * The extremities come from `GET /make_join/{roomId}/{ourJoinedUser}` (server-server "Joining
 * Rooms"): the template's `prev_events` are the peer's current forward extremities (Synapse: its
 * 10 deepest), and nothing is created until a send_join, which we never make. After a partition
 * the peer has two branches, ours (which it pulled from us) and its own; asking only for its
 * latest event by time (`timestamp_to_event`) named ours, the newest, and its own branch was
 * never fetched. `timestamp_to_event` stays the fallback for a peer that refuses the make_join.
 *
 * Pulling does not wait for the peer to push: Synapse backs off a dead server for up to days and
 * then sends only its newest event per room, so the server that comes back asks first. One pull
 * per server at a time; a pull asked for while one runs runs again after it.
 */
import type { Logger } from 'pino';
import { isJsonObject } from '../../core/json-object.js';
import type { RoomEngine } from '../../rooms/engine.js';
import type { PduOutcome } from '../receive/pdu-handler.js';
import { seg, type FederationRequests } from '../requests.js';
import { SUPPORTED_ROOM_VERSIONS } from '../../core/room-versions.js';
import { isPlausibleEventId } from '../../core/identifiers.js';

/** Synapse names at most 10 extremities in a template; a peer naming more is cut to as many. */
const MAX_HEADS = 10;

export interface RoomCatchUpDeps {
  engine: Pick<RoomEngine, 'allRooms' | 'getEvent'>;
  requests: Pick<FederationRequests, 'get'>;
  /** The PDU handler's entry for a received PDU (`PduHandler.receive`). */
  receive(origin: string, pdu: unknown): Promise<PduOutcome>;
  /** The servers with joined members in a room now (ourselves excluded). */
  serversInRoom(roomId: string): Promise<string[]>;
  /** One of our users joined to the room (the make_join's user), if any. */
  localJoinedMember(roomId: string): Promise<string | undefined>;
  log: Logger;
  now?: () => number;
}

/** What one pull from one server did, per room. */
export interface PullResult {
  server: string;
  rooms: number;
  /** Rooms whose latest event we lacked and now placed (with the gap before it). */
  filled: number;
  failed: number;
}

export class RoomCatchUp {
  private readonly running = new Map<string, Promise<PullResult>>();
  private readonly again = new Set<string>();
  /** Counters for status and tests. */
  readonly stats = { pulls: 0, roomsFilled: 0, failures: 0 };

  constructor(private readonly deps: RoomCatchUpDeps) {}

  /** Pulls every room shared with `server` (or the given ones); resolves when done. */
  pull(server: string, roomIds?: readonly string[]): Promise<PullResult> {
    const running = this.running.get(server);
    if (running) {
      this.again.add(server);
      return running;
    }
    const pending = (async () => {
      let result: PullResult;
      do {
        this.again.delete(server);
        result = await this.pullOnce(server, roomIds);
      } while (this.again.has(server));
      return result;
    })().finally(() => this.running.delete(server));
    this.running.set(server, pending);
    return pending;
  }

  private async pullOnce(server: string, roomIds?: readonly string[]): Promise<PullResult> {
    this.stats.pulls++;
    const result: PullResult = { server, rooms: 0, filled: 0, failed: 0 };
    const rooms = roomIds ?? (await this.roomsSharedWith(server));
    for (const roomId of rooms) {
      result.rooms++;
      try {
        if (await this.pullRoom(server, roomId)) result.filled++;
      } catch (err) {
        result.failed++;
        this.stats.failures++;
        this.deps.log.info({ server, roomId, err: (err as Error).message }, 'catch-up: could not pull a room');
      }
    }
    this.stats.roomsFilled += result.filled;
    if (result.filled > 0 || result.failed > 0) this.deps.log.info(result, 'catch-up pull done');
    return result;
  }

  /** True when one of the server's forward extremities was new to us and is now placed. */
  private async pullRoom(server: string, roomId: string): Promise<boolean> {
    let filled = false;
    for (const headId of await this.peerHeads(server, roomId)) {
      const known = await this.deps.engine.getEvent(headId);
      if (known && known.meta.status !== 'outlier') continue;
      const fetched = await this.deps.requests.get(server, `/_matrix/federation/v1/event/${seg(headId)}`);
      if (!isJsonObject(fetched) || !Array.isArray(fetched.pdus) || fetched.pdus.length !== 1) throw new Error('malformed event answer');
      const outcome = await this.deps.receive(server, fetched.pdus[0]);
      if (outcome.status !== 'accepted' && outcome.status !== 'known' && outcome.status !== 'soft_failed') {
        throw new Error(`a forward extremity of ${server} was not placed: ${outcome.error ?? outcome.status}`);
      }
      if (outcome.status !== 'known') filled = true;
    }
    return filled;
  }

  /**
   * The server's forward extremities in the room: the `prev_events` of a make_join template for
   * one of our joined users; its latest event by time when it refuses (or we have no joined user).
   */
  private async peerHeads(server: string, roomId: string): Promise<string[]> {
    const member = await this.deps.localJoinedMember(roomId);
    if (member !== undefined) {
      try {
        const answer = await this.deps.requests.get(server, `/_matrix/federation/v1/make_join/${seg(roomId)}/${seg(member)}`, { ver: [...SUPPORTED_ROOM_VERSIONS] });
        const prev = isJsonObject(answer) && isJsonObject(answer.event) ? answer.event.prev_events : undefined;
        const heads = Array.isArray(prev) ? prev.filter((id): id is string => isPlausibleEventId(id)) : [];
        if (heads.length > 0) return heads.slice(0, MAX_HEADS);
      } catch (err) {
        // Unreachable: the pull fails here as it would below. Refused (403, 404, a version it
        // lacks): ask for the latest event instead.
        if ((err as { status?: number }).status === undefined) throw err;
        this.deps.log.debug({ server, roomId, err: (err as Error).message }, 'catch-up: make_join refused; asking for the latest event');
      }
    }
    const now = (this.deps.now ?? Date.now)();
    const answer = await this.deps.requests.get(server, `/_matrix/federation/v1/timestamp_to_event/${seg(roomId)}`, { ts: String(now), dir: 'b' });
    if (!isJsonObject(answer) || !isPlausibleEventId(answer.event_id)) throw new Error('malformed timestamp_to_event answer');
    return [answer.event_id];
  }

  /** Every server we share a room with (the pull mode's round). */
  async serversSharingRooms(): Promise<string[]> {
    const out = new Set<string>();
    for (const room of this.deps.engine.allRooms()) {
      try {
        for (const server of await this.deps.serversInRoom(room.roomId)) out.add(server);
      } catch {
        // A room without state (an invite we were sent) is not shared yet.
      }
    }
    return [...out];
  }

  private async roomsSharedWith(server: string): Promise<string[]> {
    const out: string[] = [];
    for (const room of this.deps.engine.allRooms()) {
      try {
        if ((await this.deps.serversInRoom(room.roomId)).includes(server)) out.push(room.roomId);
      } catch {
        // A room without state (an invite we were sent) is not shared yet.
      }
    }
    return out;
  }
}
