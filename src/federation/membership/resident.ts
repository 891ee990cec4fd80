/**
 * This server as the resident server of a room another server's user wants to join, leave or
 * knock on, and as the invitee's server of an invite (server-server "Joining Rooms", "Leaving
 * Rooms (Rejecting Invites)", "Knocking upon a room", "Inviting to a room").
 *
 * Sensor rooms stay home: a room created with `m.federate: false` refuses every one of these
 * with 403, so nothing of it leaves the gateway.
 */
import type { Logger } from 'pino';
import { ErrCode, MatrixError, forbidden, notFound } from '../../core/errors.js';
import { serverNameOf } from '../../core/identifiers.js';
import { isJsonObject } from '../../core/json-object.js';
import { getRoomVersionRules, isSupportedRoomVersion } from '../../core/room-versions.js';
import { signJson } from '../../core/signing.js';
import { stateKey, type JsonObject, type Pdu, type RoomEvent, type SigningKey } from '../../core/types.js';
import { redactPdu } from '../../core/redaction.js';
import { canUserDo } from '../../state/power-levels.js';
import { roomFederates } from '../../state/room-state.js';
import { strippedStateOf } from '../../rooms/stripped-state.js';
import { isServerAllowedByAcl } from '../send/server-acl.js';
import type { RoomEngine, StoredEvent } from '../../rooms/engine.js';
import type { PduHandler } from '../receive/pdu-handler.js';
import { authChainOf } from '../serve/room-reads.js';

export interface ResidentDeps {
  engine: RoomEngine;
  pdus: PduHandler;
  serverName: string;
  signingKey: SigningKey;
  /** Whether a local user exists (invites for unknown users are refused). */
  userExists: (userId: string) => Promise<boolean>;
  /** Events this server accepted on behalf of another one (send_join etc.): the sender relays them. */
  relay: (event: StoredEvent) => void;
  log: Logger;
}

type Membership = 'join' | 'leave' | 'knock';

/** The M_INCOMPATIBLE_ROOM_VERSION refusal of make_join / make_knock (server-server "Joining Rooms"). */
function incompatible(version: string): MatrixError {
  return new MatrixError(400, 'M_INCOMPATIBLE_ROOM_VERSION' as typeof ErrCode.UNKNOWN, `Your server does not support room version ${version}`, { room_version: version });
}

export class ResidentMembership {
  constructor(private readonly deps: ResidentDeps) {}

  /** `GET make_join|make_leave|make_knock/{roomId}/{userId}`: an unsigned template checked against current state. */
  async make(origin: string, membership: Membership, roomId: string, userId: string, supportedVersions: string[] | undefined): Promise<JsonObject> {
    if (serverNameOf(userId) !== origin) throw forbidden(`${origin} cannot ${membership} on behalf of ${userId}`);
    const room = await this.federatingRoom(roomId, origin);
    if (membership !== 'leave') {
      const accepted = supportedVersions && supportedVersions.length > 0 ? supportedVersions : ['1'];
      if (!accepted.includes(room.version)) throw incompatible(room.version);
    }
    const content: JsonObject = { membership };
    if (membership === 'join') {
      const authoriser = await this.restrictedJoinAuthoriser(roomId, userId);
      if (authoriser) content.join_authorised_via_users_server = authoriser;
    }
    const { template, version } = await this.deps.engine.templateForRemote(roomId, {
      type: 'm.room.member',
      state_key: userId,
      sender: userId,
      content,
    });
    return { event: { ...template, origin: this.deps.serverName } as unknown as JsonObject, room_version: version };
  }

  /**
   * `PUT /v2/send_join|send_leave|send_knock/{roomId}/{eventId}`: the signed event, checked like
   * any received PDU; once accepted we relay it to the room's other servers. send_join answers with
   * the state before the join and its auth chain.
   */
  async send(origin: string, membership: Membership, roomId: string, eventId: string, body: unknown): Promise<JsonObject> {
    const room = await this.federatingRoom(roomId, origin);
    const rules = getRoomVersionRules(room.version)!;
    if (!isJsonObject(body)) throw new MatrixError(400, ErrCode.BAD_JSON, 'The event must be an object');
    let raw: JsonObject = body;
    // rooms/v8 restricted joins: the authorising resident server (us) signs the join too.
    const authoriser = isJsonObject(raw.content) ? raw.content.join_authorised_via_users_server : undefined;
    if (membership === 'join' && typeof authoriser === 'string' && serverNameOf(authoriser) === this.deps.serverName && isJsonObject(raw.signatures)) {
      const { signatures, unsigned: _unsigned, ...rest } = raw;
      const ours = signJson(redactPdu(rest as unknown as Pdu, rules), this.deps.serverName, this.deps.signingKey).signatures;
      raw = { ...raw, signatures: { ...(signatures as JsonObject), ...(ours as unknown as JsonObject) } };
    }
    const content = isJsonObject(raw.content) ? raw.content : {};
    if (raw.type !== 'm.room.member' || content.membership !== membership || raw.state_key !== raw.sender) {
      throw new MatrixError(400, ErrCode.BAD_JSON, `Not a ${membership} event of its sender`);
    }
    if (typeof raw.sender !== 'string' || serverNameOf(raw.sender) !== origin) throw forbidden(`${origin} cannot send a ${membership} for ${String(raw.sender)}`);
    const checked = await this.deps.pdus.checkReceived(raw, room, rules);
    const signedRaw = raw;
    if ('error' in checked) throw new MatrixError(400, ErrCode.BAD_JSON, checked.error);
    if (checked.event.event_id !== eventId) throw new MatrixError(400, ErrCode.BAD_JSON, `The event's id is ${checked.event.event_id}, not ${eventId}`);
    const outcome = await this.deps.pdus.receive(origin, signedRaw);
    if (outcome.status !== 'accepted' && outcome.status !== 'known') {
      throw forbidden(`The ${membership} was not accepted: ${outcome.error ?? outcome.status}`);
    }
    const stored = await this.deps.engine.getEvent(eventId);
    if (stored && outcome.status === 'accepted') this.deps.relay(stored);
    if (membership === 'knock') return { knock_room_state: strippedStateOf(await this.deps.engine.currentState(roomId)) };
    if (membership !== 'join') return {};

    const before = stored ? await this.deps.engine.stateIdsOf(stored.meta.stateBefore) : new Map<string, string>();
    const state: StoredEvent[] = [];
    for (const id of before.values()) {
      const event = await this.deps.engine.getEvent(id);
      if (event) state.push(event);
    }
    const chain = await authChainOf(this.deps.engine, [...before.values(), eventId]);
    const servers = new Set<string>([this.deps.serverName]);
    for (const event of state) {
      if (event.pdu.type === 'm.room.member' && event.pdu.content.membership === 'join') servers.add(serverNameOf(event.pdu.state_key ?? '') ?? '');
    }
    return {
      origin: this.deps.serverName,
      state: state.map((e) => wire(e)),
      auth_chain: chain.map((e) => wire(e)),
      event: wire(stored ?? checked.event),
      members_omitted: false,
      servers_in_room: [...servers].filter(Boolean),
    };
  }

  /**
   * `PUT /v2/invite/{roomId}/{eventId}`: another server invites one of our users. We check the
   * event (signed by its sender's server, an invite of a local user that exists), sign it too,
   * and remember the invite so the user's /sync shows it with the stripped state given.
   */
  async invite(origin: string, roomId: string, eventId: string, body: unknown): Promise<JsonObject> {
    if (!isJsonObject(body) || !isJsonObject(body.event)) throw new MatrixError(400, ErrCode.BAD_JSON, 'Missing event');
    const version = typeof body.room_version === 'string' ? body.room_version : '1';
    if (!isSupportedRoomVersion(version)) throw incompatible(version);
    const rules = getRoomVersionRules(version)!;
    const raw = body.event;
    const content = isJsonObject(raw.content) ? raw.content : {};
    const invitee = typeof raw.state_key === 'string' ? raw.state_key : '';
    if (raw.type !== 'm.room.member' || content.membership !== 'invite' || raw.room_id !== roomId) throw new MatrixError(400, ErrCode.BAD_JSON, 'Not an invite for this room');
    if (serverNameOf(invitee) !== this.deps.serverName || !(await this.deps.userExists(invitee))) throw notFound(`No user ${invitee} here`);
    if (typeof raw.sender !== 'string' || serverNameOf(raw.sender) !== origin) throw forbidden(`${origin} cannot invite on behalf of ${String(raw.sender)}`);
    const local = this.deps.engine.room(roomId);
    if (local && local.version !== version) throw new MatrixError(400, ErrCode.BAD_JSON, 'Room version mismatch');
    const room = local ?? (await this.deps.engine.adoptRemoteRoom(roomId, version, raw.sender));
    const checked = await this.deps.pdus.checkReceived(raw, room, rules);
    if ('error' in checked) throw new MatrixError(400, ErrCode.BAD_JSON, checked.error);
    if (checked.event.event_id !== eventId) throw new MatrixError(400, ErrCode.BAD_JSON, `The event's id is ${checked.event.event_id}, not ${eventId}`);
    const create = await this.deps.engine.stateEvent(roomId, 'm.room.create', '').catch(() => undefined);
    if (create?.pdu.content['m.federate'] === false) throw forbidden('This room does not federate');

    // Our signature: the inviting server sends the event on with it (server-server "Inviting to a room").
    const { signatures: theirs, ...unsigned } = checked.event.pdu;
    const ours = signJson(unsigned, this.deps.serverName, this.deps.signingKey).signatures;
    const signed = { ...checked.event.pdu, signatures: { ...theirs, ...ours } } as Pdu;
    const inviteState = Array.isArray(body.invite_room_state) ? body.invite_room_state.filter(isJsonObject).slice(0, 64) : [];
    const strippedInvite: JsonObject = { type: 'm.room.member', state_key: invitee, sender: raw.sender, content: content as JsonObject };
    const event: RoomEvent = { event_id: eventId, room_id: roomId, pdu: signed };
    const joinedHere = (await this.deps.engine.membershipOf(invitee, roomId)) === 'join';
    if (!joinedHere) {
      await this.deps.engine.recordOutsiderMembership(room, event, [...(inviteState as JsonObject[]), strippedInvite]);
    }
    return { event: signed as unknown as JsonObject };
  }

  /** The room, if it exists here, federates and admits `origin` (its server ACL); 404 or 403 otherwise. */
  private async federatingRoom(roomId: string, origin: string) {
    const room = this.deps.engine.room(roomId);
    const head = room ? this.deps.engine.headOf(roomId) : undefined;
    if (!room || !head || head.extremities.length === 0) throw notFound(`Unknown room ${roomId}`);
    const state = await this.deps.engine.currentState(roomId);
    if (!roomFederates(state)) throw forbidden('This room does not federate');
    const acl = state.get(stateKey('m.room.server_acl', ''))?.pdu.content;
    if (acl && !isServerAllowedByAcl(origin, acl)) throw forbidden(`${origin} is denied by the room's server ACL`);
    return room;
  }

  /**
   * rooms/v8 "Restricted rooms": for a user not yet invited or joined, a local member who may
   * invite vouches for the join, provided the user is joined to one of the rooms the join rule's
   * `allow` list names (as far as this server knows them). Undefined when no authoriser is needed
   * or none can be found (the auth rules then refuse the join).
   */
  private async restrictedJoinAuthoriser(roomId: string, userId: string): Promise<string | undefined> {
    const room = this.deps.engine.room(roomId)!;
    const rules = getRoomVersionRules(room.version)!;
    const state = await this.deps.engine.currentState(roomId);
    const joinRules = state.get(stateKey('m.room.join_rules', ''))?.pdu.content;
    const rule = joinRules?.join_rule;
    if (!rules.restrictedJoinRule || (rule !== 'restricted' && rule !== 'knock_restricted')) return undefined;
    const current = state.get(stateKey('m.room.member', userId))?.pdu.content.membership;
    if (current === 'join' || current === 'invite') return undefined;
    const allowList = Array.isArray(joinRules?.allow) ? joinRules!.allow : [];
    let qualifies = false;
    for (const entry of allowList) {
      if (!isJsonObject(entry) || entry.type !== 'm.room_membership' || typeof entry.room_id !== 'string') continue;
      if (!this.deps.engine.room(entry.room_id)) continue;
      const member = await this.deps.engine.stateEvent(entry.room_id, 'm.room.member', userId).catch(() => undefined);
      if (member?.pdu.content.membership === 'join') {
        qualifies = true;
        break;
      }
    }
    if (!qualifies) throw forbidden(`${userId} is not a member of any room that grants access to ${roomId}`);
    for (const event of state.values()) {
      const candidate = event.pdu.state_key ?? '';
      if (event.pdu.type !== 'm.room.member' || event.pdu.content.membership !== 'join' || serverNameOf(candidate) !== this.deps.serverName) continue;
      if (canUserDo('invite', candidate, state, rules)) return candidate;
    }
    throw forbidden(`No user of ${this.deps.serverName} may authorise joining ${roomId}`);
  }
}

/** The PDU as it travels: v1/v2 events carry their id; later versions never do. */
export function wire(event: StoredEvent | RoomEvent): JsonObject {
  return event.pdu as unknown as JsonObject;
}
