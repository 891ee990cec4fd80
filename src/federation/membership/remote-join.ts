/**
 * A local user joins a room that lives on other servers (server-server "Joining Rooms"):
 *   1. `GET make_join` on a resident server: an unsigned join template and the room version;
 *   2. we fill in our timestamp, hash and sign it (for v1/v2 we also give it its id);
 *   3. `PUT /v2/send_join`: the resident server answers with the room's state before the join
 *      and its auth chain;
 *   4. every returned event is checked (shape, signatures, content hash, auth against its own
 *      auth events); a broken auth chain refuses the join;
 *   5. the auth chain and state are stored as outliers, the room adopted, and the join persisted
 *      through `persistEvent` with that state before it: from then on the room is like any other.
 */
import type { Logger } from 'pino';
import { finalizePdu, type PduTemplate } from '../../core/event-builder.js';
import { MatrixError, ErrCode } from '../../core/errors.js';
import { isJsonObject } from '../../core/json-object.js';
import { getRoomVersionRules, SUPPORTED_ROOM_VERSIONS, type RoomVersionRules } from '../../core/room-versions.js';
import { stateKey, type JsonObject, type Pdu, type RoomEvent, type RoomVersionId, type SigningKey, type StateIdMap } from '../../core/types.js';
import type { RoomEngine, RoomRecord } from '../../rooms/engine.js';
import { referencedEventIds as referencedIds } from '../../core/event-references.js';
import type { PduHandler } from '../receive/pdu-handler.js';
import { seg, type FederationRequests } from '../requests.js';

export interface RemoteJoinDeps {
  engine: RoomEngine;
  requests: FederationRequests;
  pdus: PduHandler;
  serverName: string;
  signingKey: SigningKey;
  log: Logger;
}

/** Membership an outgoing make_/send_ pair produces. */
type RemoteMembership = 'join' | 'leave' | 'knock';

/** A join (or leave, knock) event of ours for a room on other servers, persisted or sent. */
export class RemoteMembershipMaker {
  constructor(private readonly deps: RemoteJoinDeps) {}

  /**
   * Joins `userId` to `roomId` through the first of `servers` that answers. Returns the join's
   * event id. Throws a MatrixError the client API can show when no server lets us in.
   */
  async join(userId: string, roomId: string, servers: string[], content: JsonObject = {}): Promise<string> {
    const faults: string[] = [];
    for (const server of candidates(servers, this.deps.serverName)) {
      try {
        return await this.joinVia(server, userId, roomId, content);
      } catch (err) {
        if (err instanceof MatrixError && err.status === 403) throw err;
        faults.push(`${server}: ${(err as Error).message}`);
        this.deps.log.info({ server, roomId, err: (err as Error).message }, 'remote join failed; trying the next server');
      }
    }
    throw new MatrixError(404, ErrCode.NOT_FOUND, `Could not join ${roomId} through any server (${faults.join('; ') || 'none known'})`);
  }

  private async joinVia(server: string, userId: string, roomId: string, content: JsonObject): Promise<string> {
    const { pdu, eventId, rules, version } = await this.makeAndSign(server, 'join', userId, roomId, content);
    const answer = await this.deps.requests.put(server, `/_matrix/federation/v2/send_join/${seg(roomId)}/${seg(eventId)}`, pdu);
    if (!isJsonObject(answer) || !Array.isArray(answer.state) || !Array.isArray(answer.auth_chain)) throw new Error('malformed send_join answer');
    // A restricted join comes back signed by the authorising resident server (rooms/v8).
    let joinPdu = pdu;
    if (isJsonObject(answer.event) && isJsonObject(answer.event.signatures)) {
      joinPdu = { ...pdu, signatures: { ...(answer.event.signatures as Pdu['signatures']), ...pdu.signatures } };
    }

    const room = await this.deps.engine.adoptRemoteRoom(roomId, version, creatorOf(answer.auth_chain, answer.state) ?? userId);
    return this.deps.engine.runInRoom(room.roomId, async () => {
      const joinAuth = new Set(referencedIds(joinPdu.auth_events));
      const stateIds = await this.storeRoomState(server, room, rules, [...answer.auth_chain as unknown[], ...answer.state as unknown[]], answer.state as unknown[], joinAuth);
      const event: RoomEvent = { event_id: eventId, room_id: roomId, pdu: joinPdu };
      const known = await this.deps.engine.getEvent(eventId);
      if (known && known.meta.status === undefined) return eventId;
      await this.deps.engine.persistEvent({ room, event, status: 'accepted', stateBefore: { ids: stateIds }, currentState: 'after' });
      return eventId;
    });
  }

  /**
   * Rejects a remote invite or leaves a room we never joined (server-server "Leaving Rooms
   * (Rejecting Invites)"): make_leave + send_leave through the inviting server.
   */
  async leave(userId: string, roomId: string, servers: string[]): Promise<RoomEvent> {
    let lastFault: Error | undefined;
    for (const server of candidates(servers, this.deps.serverName)) {
      try {
        const { pdu, eventId } = await this.makeAndSign(server, 'leave', userId, roomId, {});
        await this.deps.requests.put(server, `/_matrix/federation/v2/send_leave/${seg(roomId)}/${seg(eventId)}`, pdu);
        return { event_id: eventId, room_id: roomId, pdu };
      } catch (err) {
        lastFault = err as Error;
      }
    }
    throw new MatrixError(502, ErrCode.UNKNOWN, `Could not leave ${roomId} through any server: ${lastFault?.message ?? 'none known'}`);
  }

  /** Knocks on a remote room (server-server "Knocking upon a room"); returns the knock's event id. */
  async knock(userId: string, roomId: string, servers: string[], content: JsonObject): Promise<{ event: RoomEvent; version: RoomVersionId; state: JsonObject[] }> {
    let lastFault: Error | undefined;
    for (const server of candidates(servers, this.deps.serverName)) {
      try {
        const { pdu, eventId, version } = await this.makeAndSign(server, 'knock', userId, roomId, content);
        const answer = await this.deps.requests.put(server, `/_matrix/federation/v1/send_knock/${seg(roomId)}/${seg(eventId)}`, pdu);
        const state = isJsonObject(answer) && Array.isArray(answer.knock_room_state) ? answer.knock_room_state.filter(isJsonObject).slice(0, 64) : [];
        return { event: { event_id: eventId, room_id: roomId, pdu }, version, state };
      } catch (err) {
        if (err instanceof MatrixError && err.status === 403) throw err;
        lastFault = err as Error;
      }
    }
    throw new MatrixError(404, ErrCode.NOT_FOUND, `Could not knock on ${roomId} through any server: ${lastFault?.message ?? 'none known'}`);
  }

  /** Steps 1-2: the template from a resident server, completed and signed by us. */
  private async makeAndSign(server: string, membership: RemoteMembership, userId: string, roomId: string, content: JsonObject): Promise<{ pdu: Pdu; eventId: string; rules: RoomVersionRules; version: RoomVersionId }> {
    const query = { ver: [...SUPPORTED_ROOM_VERSIONS] };
    let answer: unknown;
    try {
      answer = await this.deps.requests.get(server, `/_matrix/federation/v1/make_${membership}/${seg(roomId)}/${seg(userId)}`, membership === 'leave' ? undefined : query);
    } catch (err) {
      const status = (err as { status?: number }).status;
      const errcode = (err as { errcode?: string }).errcode;
      if (status === 403) throw new MatrixError(403, ErrCode.FORBIDDEN, `${server} refused: ${(err as Error).message}`);
      if (errcode === 'M_INCOMPATIBLE_ROOM_VERSION') throw new MatrixError(400, ErrCode.UNSUPPORTED_ROOM_VERSION, `${roomId} has a room version this server does not speak`);
      throw err;
    }
    if (!isJsonObject(answer) || !isJsonObject(answer.event)) throw new Error(`malformed make_${membership} answer`);
    const version = (typeof answer.room_version === 'string' ? answer.room_version : '1') as RoomVersionId;
    const rules = getRoomVersionRules(version);
    if (!rules) throw new MatrixError(400, ErrCode.UNSUPPORTED_ROOM_VERSION, `Room version ${version} is not supported`);
    const proto = answer.event;
    // Only what the template may say: we never sign fields we did not check.
    if (proto.type !== 'm.room.member' || proto.state_key !== userId || proto.sender !== userId || proto.room_id !== roomId) {
      throw new Error(`make_${membership} returned a template for another event`);
    }
    const protoContent = isJsonObject(proto.content) ? proto.content : {};
    if (protoContent.membership !== membership) throw new Error(`make_${membership} returned a ${String(protoContent.membership)} template`);
    const template: PduTemplate = {
      auth_events: proto.auth_events as string[],
      content: { ...protoContent, ...content, membership },
      depth: Number(proto.depth),
      origin_server_ts: Date.now(),
      prev_events: proto.prev_events as string[],
      room_id: roomId,
      sender: userId,
      state_key: userId,
      type: 'm.room.member',
    };
    if (typeof proto.origin === 'string') (template as JsonObject).origin = this.deps.serverName;
    const { pdu, eventId } = finalizePdu(template, { rules, serverName: this.deps.serverName, key: this.deps.signingKey });
    return { pdu, eventId, rules, version };
  }

  /**
   * Steps 4-5: checks every event of the send_join answer and stores them as outliers, auth
   * events before the events they authorise. Returns the state before the join. Refuses the whole
   * join if a state event cannot be authorised (a broken auth chain).
   */
  private async storeRoomState(server: string, room: RoomRecord, rules: RoomVersionRules, raws: unknown[], stateRaws: unknown[], joinAuth: ReadonlySet<string>): Promise<StateIdMap> {
    const byId = new Map<string, RoomEvent>();
    const idByRaw = new Map<unknown, string>();
    const faults: string[] = [];
    for (const raw of raws) {
      const checked = await this.deps.pdus.checkReceived(raw, room, rules);
      if ('error' in checked) {
        faults.push(checked.error);
        continue;
      }
      byId.set(checked.event.event_id, checked.event);
      idByRaw.set(raw, checked.event.event_id);
    }
    const stateIds = new Set<string>();
    let dropped = 0;
    for (const raw of stateRaws) {
      const id = idByRaw.get(raw);
      if (id) {
        stateIds.add(id);
        continue;
      }
      // Rooms are full of member events from servers that are gone and whose keys can no longer
      // be had: those are left out of the state (as Synapse does). The events the room's rules
      // stand on are not: without them the join is refused.
      if (isJsonObject(raw) && ESSENTIAL_STATE_TYPES.has(String(raw.type))) throw new Error(`send_join state event ${String(raw.type)} refused: ${faults[0] ?? 'invalid'}`);
      dropped++;
    }
    // Store in auth order: an event only after its auth events (iterative; chains are long).
    const stored = new Set<string>();
    const order: RoomEvent[] = [];
    const visiting = new Set<string>();
    for (const start of byId.values()) {
      const stack: [RoomEvent, boolean][] = [[start, false]];
      while (stack.length > 0) {
        const [event, expanded] = stack.pop()!;
        if (stored.has(event.event_id)) continue;
        if (expanded) {
          stored.add(event.event_id);
          order.push(event);
          continue;
        }
        if (visiting.has(event.event_id)) continue;
        visiting.add(event.event_id);
        stack.push([event, true]);
        for (const authId of referencedIds(event.pdu.auth_events)) {
          const authEvent = byId.get(authId);
          if (authEvent && !stored.has(authId)) stack.push([authEvent, false]);
        }
      }
    }
    const state: StateIdMap = new Map();
    for (const event of order) {
      const result = await this.deps.pdus.storeOutlier(server, room, rules, event);
      if (!result || result.meta.status === 'rejected') {
        if (!stateIds.has(event.event_id)) continue;
        if (ESSENTIAL_STATE_TYPES.has(event.pdu.type) || joinAuth.has(event.event_id)) {
          throw new Error(`send_join state event ${event.event_id} fails its auth chain${result?.meta.rejectedReason ? `: ${result.meta.rejectedReason}` : ''}`);
        }
        stateIds.delete(event.event_id);
        dropped++;
      }
    }
    if (dropped > 0) this.deps.log.info({ roomId: room.roomId, dropped }, 'join: state events that could not be verified were left out');
    for (const id of stateIds) {
      const event = byId.get(id)!;
      if (event.pdu.state_key === undefined) continue;
      state.set(stateKey(event.pdu.type, event.pdu.state_key), id);
    }
    if (!state.has(stateKey('m.room.create', ''))) {
      throw new Error(`send_join answer has no create event${faults.length ? ` (${faults.slice(0, 3).join('; ')})` : ''}`);
    }
    return state;
  }
}

/** State the room's rules stand on: a join whose answer cannot prove these is refused. */
const ESSENTIAL_STATE_TYPES = new Set(['m.room.create', 'm.room.power_levels', 'm.room.join_rules']);

/** Servers to try: the ones given, without ourselves, without repeats. */
function candidates(servers: string[], ourName: string): string[] {
  return [...new Set(servers)].filter((s) => s && s !== ourName);
}

function creatorOf(...lists: unknown[]): string | undefined {
  for (const list of lists) {
    if (!Array.isArray(list)) continue;
    for (const raw of list) if (isJsonObject(raw) && raw.type === 'm.room.create' && typeof raw.sender === 'string') return raw.sender;
  }
  return undefined;
}
