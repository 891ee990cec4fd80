/**
 * Pulling what we missed (issue 12 "Coming back"): after our own downtime, or when a server we
 * could not reach answers again, ask it for its latest event in each room we share
 * (`GET /timestamp_to_event/{roomId}?ts=now&dir=b`, server-server "Timestamp to event"); an
 * unknown one is fetched (`GET /event`) and handed to the PDU handler like a pushed PDU, whose
 * `get_missing_events` walk fills the gap back to what we have, in order, before it is placed.
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

export interface RoomCatchUpDeps {
  engine: Pick<RoomEngine, 'allRooms' | 'getEvent'>;
  requests: Pick<FederationRequests, 'get'>;
  /** The PDU handler's entry for a received PDU (`PduHandler.receive`). */
  receive(origin: string, pdu: unknown): Promise<PduOutcome>;
  /** The servers with joined members in a room now (ourselves excluded). */
  serversInRoom(roomId: string): Promise<string[]>;
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

  /** True when the server's latest event was new to us and is now placed. */
  private async pullRoom(server: string, roomId: string): Promise<boolean> {
    const now = (this.deps.now ?? Date.now)();
    const answer = await this.deps.requests.get(server, `/_matrix/federation/v1/timestamp_to_event/${seg(roomId)}`, { ts: String(now), dir: 'b' });
    if (!isJsonObject(answer) || typeof answer.event_id !== 'string') throw new Error('malformed timestamp_to_event answer');
    const latestId = answer.event_id;
    const known = await this.deps.engine.getEvent(latestId);
    if (known && known.meta.status !== 'outlier') return false;
    const fetched = await this.deps.requests.get(server, `/_matrix/federation/v1/event/${seg(latestId)}`);
    if (!isJsonObject(fetched) || !Array.isArray(fetched.pdus) || fetched.pdus.length !== 1) throw new Error('malformed event answer');
    const outcome = await this.deps.receive(server, fetched.pdus[0]);
    if (outcome.status !== 'accepted' && outcome.status !== 'known' && outcome.status !== 'soft_failed') {
      throw new Error(`the latest event was not placed: ${outcome.error ?? outcome.status}`);
    }
    return outcome.status !== 'known';
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
