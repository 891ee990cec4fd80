/**
 * The federation event pipeline, assembled: receiving PDUs and transactions, answering pulls,
 * membership both ways, and the sender. Built before the client room API (which joins and
 * invites through `membership`), with routes registered on the federation listener.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { ErrCode, MatrixError } from '../core/errors.js';
import { serverNameOf } from '../core/identifiers.js';
import { isJsonObject } from '../core/json-object.js';
import { getRoomVersionRules } from '../core/room-versions.js';
import { stateKey, type Pdu, type RoomEvent, type RoomVersionId, type SigningKey } from '../core/types.js';
import { checkEventSignatures, type ServerKeyLookup } from '../federation/receive/event-signatures.js';
import { eventOf, PduHandler } from '../federation/receive/pdu-handler.js';
import { TransactionReceiver } from '../federation/receive/transactions.js';
import { pullDelay } from '../federation/catchup/pull-delay.js';
import { RemoteMembershipMaker } from '../federation/membership/remote-join.js';
import { ResidentMembership } from '../federation/membership/resident.js';
import { seg, type FederationRequests, type FederationStreams } from '../federation/requests.js';
import { registerRoomRoutes } from '../federation/routes/room-routes.js';
import { FederationSender } from '../federation/send/sender.js';
import type { QueueOptions } from '../federation/send/destination-queue.js';
import { RoomCatchUp } from '../federation/catchup/room-catch-up.js';
import { PullSchedule } from '../federation/catchup/pull-schedule.js';
import { registerTimestampToEventRoute } from '../federation/serve/timestamp-to-event.js';
import { TimelineReader } from '../rooms/timeline.js';
import { FederationOutboxStore } from '../storage/federation-outbox.js';
import { RoomReads } from '../federation/serve/room-reads.js';
import type { RoomEngine } from '../rooms/engine.js';
import type { FederatedMembership } from '../rooms/membership.js';
import type { Database } from '../storage/db.js';
import { stripEvent, strippedStateOf } from '../rooms/stripped-state.js';
import type { RoomDirectory } from '../rooms/room-directory.js';
import { listPublicRooms } from '../rooms/public-rooms.js';


/** How long a pull waits after a server became reachable, and after its last pushed PDUs (pull-delay.ts). */
const PULL_AFTER_REACHABLE_MS = 1500;
/** The latest a pull runs after a server became reachable, however busy its pushing. */
const PULL_AT_THE_LATEST_MS = 30_000;
export interface FederationRoomsDeps {
  engine: RoomEngine;
  db: Database;
  serverName: string;
  signingKey: SigningKey;
  requests: FederationRequests;
  /** Streamed requests (a big room's send_join answer is read as it arrives). */
  streams: FederationStreams;
  keys: ServerKeyLookup;
  userExists: (userId: string) => Promise<boolean>;
  /** The public room directory (aliases and the published list). */
  directory: RoomDirectory;
  log: Logger;
  /** The sender's queue tuning (tests). */
  sendOptions?: QueueOptions;
  /** Pull mode (behind NAT): ask every server we share a room with this often; 0 or absent: off. */
  pullIntervalMs?: number;
  /** Pull mode's interval while a local client syncs (`clientActive`); absent: `pullIntervalMs`. */
  pullIntervalActiveMs?: number;
  /** Is a local client syncing now? */
  clientActive?: () => boolean;
  /**
   * Throws (503) while our clock is wrong: a local user's join, leave, knock or invite of a remote
   * user would need other servers now; the client hears why instead of "could not reach".
   */
  clock?: { assertSane(): void };
}


export class FederationRooms {
  readonly pdus: PduHandler;
  readonly transactions: TransactionReceiver;
  readonly sender: FederationSender;
  readonly reads: RoomReads;
  readonly resident: ResidentMembership;
  readonly membership: FederatedMembership;
  /** Pulls what we missed from a server that is reachable again (issue 12). */
  readonly catchUp: RoomCatchUp;
  /** Pull mode's rounds (behind NAT). */
  readonly pullSchedule: PullSchedule;
  private readonly maker: RemoteMembershipMaker;
  /** Pulls waiting after a server became reachable (see onReachable). */
  private readonly pullTimers = new Set<NodeJS.Timeout>();

  constructor(private readonly deps: FederationRoomsDeps) {
    const log = deps.log;
    this.pdus = new PduHandler({
      engine: deps.engine,
      keys: deps.keys,
      log,
      remote: {
        event: async (origin, eventId) => {
          const answer = await deps.requests.get(origin, `/_matrix/federation/v1/event/${seg(eventId)}`);
          if (!isJsonObject(answer) || !Array.isArray(answer.pdus) || answer.pdus.length !== 1) throw new Error('malformed event answer');
          return answer.pdus[0];
        },
        missingEvents: async (origin, roomId, earliest, latest, limit, minDepth) => {
          const answer = await deps.requests.post(origin, `/_matrix/federation/v1/get_missing_events/${seg(roomId)}`, {
            earliest_events: earliest,
            latest_events: latest,
            limit,
            min_depth: minDepth,
          });
          return isJsonObject(answer) && Array.isArray(answer.events) ? answer.events : [];
        },
        backfill: async (origin, roomId, from, limit) => {
          const answer = await deps.requests.get(origin, `/_matrix/federation/v1/backfill/${seg(roomId)}`, { v: from, limit: String(limit) });
          return isJsonObject(answer) && Array.isArray(answer.pdus) ? answer.pdus : [];
        },
        stateIds: async (origin, roomId, eventId) => {
          const answer = await deps.requests.get(origin, `/_matrix/federation/v1/state_ids/${seg(roomId)}`, { event_id: eventId });
          if (!isJsonObject(answer)) throw new Error('malformed state_ids answer');
          return answer as unknown as { pdu_ids: string[]; auth_chain_ids: string[] };
        },
      },
    });
    this.transactions = new TransactionReceiver({ db: deps.db, pdus: this.pdus, log });
    this.sender = new FederationSender({
      engine: deps.engine,
      requests: deps.requests,
      store: new FederationOutboxStore(deps.db),
      serverName: deps.serverName,
      log,
      // Reachable after failures or our own downtime: it may have events we never got. The pull
      // waits until the peer's own push (Synapse's catch-up, started by our transaction) is over:
      // pulling while it arrived fetched the same events a second time (pull-delay.ts).
      onReachable: (server) => this.pullWhenQuiet(server, Date.now()),
      ...(deps.sendOptions ? { options: deps.sendOptions } : {}),
    });
    this.catchUp = new RoomCatchUp({
      engine: deps.engine,
      requests: deps.requests,
      receive: (origin, pdu) => this.pdus.receive(origin, pdu),
      serversInRoom: (roomId) => this.sender.serversInRoom(roomId),
      localJoinedMember: async (roomId) => {
        for (const [, event] of await deps.engine.currentState(roomId)) {
          const { type, state_key: member, content } = event.pdu;
          if (type === 'm.room.member' && member !== undefined && content.membership === 'join' && serverNameOf(member) === deps.serverName) return member;
        }
        return undefined;
      },
      log,
    });
    this.pullSchedule = new PullSchedule({
      intervalMs: deps.pullIntervalMs ?? 0,
      ...(deps.pullIntervalActiveMs !== undefined ? { activeIntervalMs: deps.pullIntervalActiveMs } : {}),
      ...(deps.clientActive ? { clientActive: deps.clientActive } : {}),
      servers: () => this.catchUp.serversSharingRooms(),
      pull: (server) => this.catchUp.pull(server),
      log,
    });
    this.reads = new RoomReads(deps.engine, deps.serverName);
    this.resident = new ResidentMembership({
      engine: deps.engine,
      pdus: this.pdus,
      serverName: deps.serverName,
      signingKey: deps.signingKey,
      userExists: deps.userExists,
      relay: (event) => this.sender.relay(event),
      log,
    });
    this.maker = new RemoteMembershipMaker({
      engine: deps.engine,
      requests: deps.requests,
      streams: deps.streams,
      pdus: this.pdus,
      serverName: deps.serverName,
      signingKey: deps.signingKey,
      log,
    });
    // Each needs other servers now: with a wrong clock the client hears why (503), not "could not reach".
    const clockSet = () => deps.clock?.assertSane();
    this.membership = {
      join: async (userId, roomId, servers, content) => {
        clockSet();
        return this.maker.join(userId, roomId, servers, content);
      },
      leave: async (userId, roomId, servers) => {
        clockSet();
        return this.maker.leave(userId, roomId, servers);
      },
      knock: async (userId, roomId, servers, content) => {
        clockSet();
        return this.maker.knock(userId, roomId, servers, content);
      },
      countersignInvite: async (event, version) => {
        clockSet();
        return this.countersignInvite(event, version);
      },
      resolveAlias: async (alias) => {
        clockSet();
        return this.resolveRemoteAlias(alias);
      },
    };
  }

  /** Starts the durable sender: every destination we share a room with hears from us (issue 12 "Announce"). */
  async start(): Promise<void> {
    try {
      await this.sender.start();
    } catch (err) {
      this.deps.log.error({ err }, 'the federation sender could not start');
    }
    this.pullSchedule.start();
  }

  /** Pulls from `server` once it has stopped pushing PDUs to us (or at the latest, see pullDelay). */
  private pullWhenQuiet(server: string, reachableAt: number): void {
    const delay = pullDelay(Date.now(), reachableAt, this.transactions.lastPdusFrom(server), { settleMs: PULL_AFTER_REACHABLE_MS, maxWaitMs: PULL_AT_THE_LATEST_MS });
    if (delay === 0) {
      void this.catchUp.pull(server);
      return;
    }
    const timer = setTimeout(() => {
      this.pullTimers.delete(timer);
      this.pullWhenQuiet(server, reachableAt);
    }, delay);
    timer.unref();
    this.pullTimers.add(timer);
  }

  async stop(): Promise<void> {
    for (const timer of this.pullTimers) clearTimeout(timer);
    this.pullTimers.clear();
    await this.pullSchedule.stop();
    await this.sender.stop();
  }

  /** Registers the room routes on the federation listener; `originOf` authenticates (X-Matrix). */
  registerRoutes(app: FastifyInstance, originOf: (request: FastifyRequest) => Promise<string>): void {
    registerRoomRoutes(app, {
      engine: this.deps.engine,
      originOf,
      transactions: this.transactions,
      reads: this.reads,
      resident: this.resident,
      publicRooms: (query) => listPublicRooms(this.deps.engine, this.deps.directory, { ...query, federatingOnly: true }),
    });
    registerTimestampToEventRoute(app, { originOf, reads: this.reads, timeline: new TimelineReader(this.deps.engine), engine: this.deps.engine });
  }

  /** Any validly signed request from a server: it is reachable again, so retry what we owe it. */
  onServerContact(origin: string): void {
    this.sender.wake(origin);
  }

  /**
   * server-server "Inviting to a room", sending side: the invitee's server checks and signs our
   * invite. What comes back must be our event (same id) with a valid signature of that server.
   */
  private async countersignInvite(event: RoomEvent, version: RoomVersionId): Promise<Pdu> {
    const invitee = event.pdu.state_key ?? '';
    const server = serverNameOf(invitee);
    if (!server) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Invalid invitee');
    const rules = getRoomVersionRules(version)!;
    const state = await this.deps.engine.currentState(event.room_id);
    const stripped = strippedStateOf(state);
    const inviter = state.get(stateKey('m.room.member', event.pdu.sender));
    if (inviter) stripped.push(stripEvent(inviter));
    let answer: unknown;
    try {
      answer = await this.deps.requests.put(server, `/_matrix/federation/v2/invite/${seg(event.room_id)}/${seg(event.event_id)}`, {
        event: event.pdu,
        room_version: version,
        invite_room_state: stripped,
      });
    } catch (err) {
      const status = (err as { status?: number }).status;
      if (status === 403 || status === 404) throw new MatrixError(403, ErrCode.FORBIDDEN, `${server} refused the invite: ${(err as Error).message}`);
      throw new MatrixError(502, ErrCode.UNKNOWN, `Could not reach ${server} to invite ${invitee}: ${(err as Error).message}`);
    }
    const returned = isJsonObject(answer) && isJsonObject(answer.event) ? (answer.event as unknown as Pdu) : undefined;
    if (!returned || !isJsonObject(returned.signatures)) throw new MatrixError(502, ErrCode.UNKNOWN, `${server} answered the invite without the event`);
    const signed: Pdu = { ...event.pdu, signatures: { ...returned.signatures, ...event.pdu.signatures } };
    let same: RoomEvent;
    try {
      same = eventOf(signed, rules);
    } catch {
      throw new MatrixError(502, ErrCode.UNKNOWN, `${server} answered the invite with another event`);
    }
    if (same.event_id !== event.event_id) throw new MatrixError(502, ErrCode.UNKNOWN, `${server} answered the invite with another event`);
    const fault = await checkEventSignatures(signed, event.event_id, rules, this.deps.keys, [server]);
    if (fault) throw new MatrixError(502, ErrCode.UNKNOWN, `${server} did not sign the invite: ${fault}`);
    return signed;
  }

  /** `GET query/directory` of the alias's server (server-server "Querying for information"). */
  private async resolveRemoteAlias(alias: string): Promise<{ roomId: string; servers: string[] } | undefined> {
    const server = serverNameOf(alias);
    if (!server) return undefined;
    try {
      const answer = await this.deps.requests.get(server, '/_matrix/federation/v1/query/directory', { room_alias: alias });
      if (!isJsonObject(answer) || typeof answer.room_id !== 'string') return undefined;
      const servers = Array.isArray(answer.servers) ? answer.servers.filter((s): s is string => typeof s === 'string').slice(0, 20) : [];
      return { roomId: answer.room_id, servers };
    } catch (err) {
      if ((err as { status?: number }).status === 404) return undefined;
      throw new MatrixError(502, ErrCode.UNKNOWN, `Could not ask ${server} about ${alias}: ${(err as Error).message}`);
    }
  }
}
