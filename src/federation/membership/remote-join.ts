/**
 * A local user joins a room that lives on other servers (server-server "Joining Rooms"):
 *   1. `GET make_join` on a resident server: an unsigned join template and the room version;
 *   2. we fill in our timestamp, hash and sign it (for v1/v2 we also give it its id);
 *   3. `PUT /v2/send_join`: the resident server answers with the room's state before the join
 *      and its auth chain, read as a stream (a big room's answer is never held whole);
 *   4. every returned event is checked as it arrives (shape, signatures, content hash) and kept
 *      compact, then checked against its own auth events as it is stored; a broken auth chain
 *      refuses the join;
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
import { seg, type FederationRequests, type FederationStreams } from '../requests.js';
import { JsonObjectStream, JsonStreamError } from '../../core/json-stream.js';
import { ESSENTIAL_STATE_TYPES, MAX_SEND_JOIN_BYTES, MAX_SEND_JOIN_EVENT_BYTES, MAX_SEND_JOIN_MEMBER_BYTES, SEND_JOIN_TIMEOUT_MS, SendJoinEvents } from './send-join-answer.js';

export interface RemoteJoinDeps {
  engine: RoomEngine;
  requests: FederationRequests;
  /** For send_join, whose answer is read as it arrives. */
  streams: FederationStreams;
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
    const answer = await this.readSendJoin(server, roomId, eventId, pdu, rules);
    // A restricted join comes back signed by the authorising resident server (rooms/v8).
    let joinPdu = pdu;
    if (isJsonObject(answer.event) && isJsonObject(answer.event.signatures)) {
      joinPdu = { ...pdu, signatures: { ...(answer.event.signatures as Pdu['signatures']), ...pdu.signatures } };
    }

    // Only an answer read whole and checked adopts the room: a cut or malformed one leaves nothing.
    const room = await this.deps.engine.adoptRemoteRoom(roomId, version, answer.events.creator() ?? userId);
    return this.deps.engine.runInRoom(room.roomId, async () => {
      const joinAuth = new Set(referencedIds(joinPdu.auth_events));
      const stateIds = await this.storeRoomState(server, room, rules, answer.events, joinAuth);
      const event: RoomEvent = { event_id: eventId, room_id: roomId, pdu: joinPdu };
      const known = await this.deps.engine.getEvent(eventId);
      if (known && known.meta.status === undefined) return eventId;
      await this.deps.engine.persistEvent({ room, event, status: 'accepted', stateBefore: { ids: stateIds }, currentState: 'after' });
      return eventId;
    });
  }

  /**
   * Steps 3-4: `PUT /v2/send_join`, its answer read as it arrives (a 2,000-member room's is ~3 MB;
   * parsed whole it was most of the join's peak memory, docs/performance.md): each event of `state`
   * and `auth_chain` is checked (shape, signatures, content hash) as soon as it is complete and kept
   * compact; the stream is not read on meanwhile, so the answer is never held whole. A malformed
   * answer, an event past the size cap or a refused essential event ends the transfer at once.
   */
  private async readSendJoin(server: string, roomId: string, eventId: string, pdu: Pdu, rules: RoomVersionRules): Promise<{ events: SendJoinEvents; event: unknown }> {
    const reader = new JsonObjectStream({ arrays: ['state', 'auth_chain'], maxElementBytes: MAX_SEND_JOIN_EVENT_BYTES, maxMemberBytes: MAX_SEND_JOIN_MEMBER_BYTES });
    const events = new SendJoinEvents(roomId, rules);
    const room = { roomId };
    let event: unknown;
    const body = await this.deps.streams.stream({
      method: 'PUT',
      destination: server,
      path: `/_matrix/federation/v2/send_join/${seg(roomId)}/${seg(eventId)}`,
      body: pdu,
      timeoutMs: SEND_JOIN_TIMEOUT_MS,
      maxResponseBytes: MAX_SEND_JOIN_BYTES,
    });
    try {
      for await (const chunk of body) {
        for (const item of reader.push(chunk)) {
          if (item.kind === 'member') {
            if (item.key === 'event') event = item.value;
            continue;
          }
          const inState = item.key === 'state';
          const checked = await this.deps.pdus.checkReceived(item.value, room, rules);
          if ('error' in checked) events.addFailed(item.value, inState, checked.error);
          else events.addChecked(checked.event, inState);
        }
      }
      reader.end();
    } catch (err) {
      body.destroy();
      if (err instanceof JsonStreamError) throw new Error(`malformed send_join answer: ${err.message}`);
      throw err;
    }
    if (!reader.has('state') || !reader.has('auth_chain')) throw new Error('malformed send_join answer: no state or auth_chain');
    return { events, event };
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
   * Step 5: stores the checked events as outliers, auth events before the events they authorise
   * (each checked against its own auth events), each let go once stored. Returns the state before
   * the join. Refuses the whole join if an essential state event, or one the join names as an auth
   * event, fails its auth chain; other state events that fail are left out.
   */
  private async storeRoomState(server: string, room: RoomRecord, rules: RoomVersionRules, events: SendJoinEvents, joinAuth: ReadonlySet<string>): Promise<StateIdMap> {
    for (const id of events.authOrder()) {
      const result = await this.deps.pdus.storeOutlier(server, room, rules, events.take(id));
      if (!result || result.meta.status === 'rejected') {
        if (!events.isState(id)) continue;
        if (ESSENTIAL_STATE_TYPES.has(events.typeOf(id)!) || joinAuth.has(id)) {
          throw new Error(`send_join state event ${id} fails its auth chain${result?.meta.rejectedReason ? `: ${result.meta.rejectedReason}` : ''}`);
        }
        events.leaveOutOfState(id);
      }
    }
    if (events.droppedState > 0) this.deps.log.info({ roomId: room.roomId, dropped: events.droppedState }, 'join: state events that could not be verified were left out');
    const state = events.stateMap();
    if (!state.has(stateKey('m.room.create', ''))) {
      throw new Error(`send_join answer has no create event${events.faults.length ? ` (${events.faults.join('; ')})` : ''}`);
    }
    return state;
  }
}

/** Servers to try: the ones given, without ourselves, without repeats. */
function candidates(servers: string[], ourName: string): string[] {
  return [...new Set(servers)].filter((s) => s && s !== ourName);
}
