/**
 * Membership changes of local users (client-server-api "Room membership"): join, knock, invite,
 * leave, kick, ban, unban, and profile propagation into member events. The auth rules decide whether a
 * change is allowed; this module only shapes the events.
 */
import type { JsonObject, Pdu, RoomEvent, RoomVersionId } from '../core/types.js';
import { isValidRoomAlias, isValidRoomId, isValidUserId, serverNameOf } from '../core/identifiers.js';
import { ErrCode, MatrixError, forbidden, notFound } from '../core/errors.js';
import type { RoomEngine } from './engine.js';

/**
 * What membership needs of federation, for rooms this server does not take part in and users of
 * other servers (server-server "Joining Rooms", "Inviting to a room", "Leaving Rooms").
 */
export interface FederatedMembership {
  /** Joins through resident servers; returns the join's event id. */
  join(userId: string, roomId: string, servers: string[], content: JsonObject): Promise<string>;
  /** Rejects an invite (or leaves a room we never joined) through the given servers. */
  leave(userId: string, roomId: string, servers: string[]): Promise<RoomEvent>;
  knock(userId: string, roomId: string, servers: string[], content: JsonObject): Promise<{ event: RoomEvent; version: RoomVersionId; state: JsonObject[] }>;
  /** The invitee's server signs an invite of its user before we persist it. */
  countersignInvite(event: RoomEvent, version: RoomVersionId): Promise<Pdu>;
  /** A remote alias, asked of its server (`query/directory`). */
  resolveAlias(alias: string): Promise<{ roomId: string; servers: string[] } | undefined>;
}

export interface MembershipDeps {
  engine: RoomEngine;
  serverName: string;
  profileOf(userId: string): Promise<{ displayname?: string; avatar_url?: string }>;
  resolveAlias(alias: string): Promise<string | undefined>;
  /** Absent when federation is off: only rooms this server knows can be joined. */
  federation?: FederatedMembership;
}

export class MembershipService {
  constructor(private readonly deps: MembershipDeps) {}

  /**
   * POST /join/{roomIdOrAlias} and /rooms/{roomId}/join. A room this server takes part in is
   * joined locally; any other one through federation, via the servers the client named
   * (`server_name`/`via`), the alias's servers, the inviter's server and the room id's server.
   */
  async join(roomIdOrAlias: string, userId: string, reason?: string, via: string[] = []): Promise<string> {
    const { roomId, servers } = await this.locateRoom(roomIdOrAlias, via);
    const profile = await this.deps.profileOf(userId);
    if (this.deps.federation && !(await this.deps.engine.participates(roomId))) {
      const content: JsonObject = { ...profile };
      if (reason) content.reason = reason;
      await this.deps.federation.join(userId, roomId, [...servers, ...(await this.inviterServers(userId, roomId))], content);
      return roomId;
    }
    this.deps.engine.requireRoom(roomId);
    const current = await this.deps.engine.membershipOf(userId, roomId);
    if (current === 'join') {
      const ev = await this.deps.engine.stateEvent(roomId, 'm.room.member', userId);
      const unchanged = ev && ev.pdu.content.displayname === profile.displayname && ev.pdu.content.avatar_url === profile.avatar_url;
      if (unchanged) return roomId;
    }
    const content: JsonObject = { membership: 'join', ...profile };
    if (reason) content.reason = reason;
    await this.deps.engine.sendEvent(roomId, { type: 'm.room.member', sender: userId, state_key: userId, content });
    return roomId;
  }

  /**
   * POST /knock/{roomIdOrAlias} (client-server "Knocking on rooms"): asks to be invited. The auth
   * rules allow it only where the join rule is `knock` (or `knock_restricted`) and the user is
   * neither joined nor banned; a member or a banned user gets a clear 403 first.
   */
  async knock(roomIdOrAlias: string, userId: string, reason?: string, via: string[] = []): Promise<string> {
    const { roomId, servers } = await this.locateRoom(roomIdOrAlias, via);
    if (this.deps.federation && !(await this.deps.engine.participates(roomId))) {
      const content: JsonObject = { membership: 'knock', ...(await this.deps.profileOf(userId)) };
      if (reason) content.reason = reason;
      const { event, version, state } = await this.deps.federation.knock(userId, roomId, servers, content);
      const room = await this.deps.engine.adoptRemoteRoom(roomId, version, event.pdu.sender);
      await this.deps.engine.recordOutsiderMembership(room, event, state);
      return roomId;
    }
    this.deps.engine.requireRoom(roomId);
    const current = await this.deps.engine.membershipOf(userId, roomId);
    if (current === 'join') throw forbidden('You are already in the room');
    if (current === 'ban') throw forbidden('You are banned from the room');
    if (current === 'invite') throw forbidden('You are already invited: join instead');
    const content: JsonObject = { membership: 'knock', ...(await this.deps.profileOf(userId)) };
    if (reason) content.reason = reason;
    await this.deps.engine.sendEvent(roomId, { type: 'm.room.member', sender: userId, state_key: userId, content });
    return roomId;
  }

  async invite(roomId: string, sender: string, target: string, reason?: string, isDirect = false): Promise<void> {
    this.requireUserId(target);
    this.deps.engine.requireRoom(roomId);
    await this.requireJoined(sender, roomId);
    const current = await this.deps.engine.membershipOf(target, roomId);
    if (current === 'join') throw forbidden(`${target} is already in the room`);
    if (current === 'ban') throw forbidden(`${target} is banned from the room`);
    const remote = serverNameOf(target) !== this.deps.serverName;
    const content: JsonObject = { membership: 'invite', ...(remote ? {} : await this.deps.profileOf(target)) };
    if (reason) content.reason = reason;
    if (isDirect) content.is_direct = true;
    if (!remote) return this.setMembership(roomId, sender, target, content);
    const federation = this.deps.federation;
    if (!federation) throw forbidden('This server does not federate: only its own users can be invited');
    const create = await this.deps.engine.stateEvent(roomId, 'm.room.create', '');
    if (create?.pdu.content['m.federate'] === false) throw forbidden('This room does not federate: only local users can be invited');
    await this.deps.engine.sendEvent(roomId, { type: 'm.room.member', sender, state_key: target, content }, {
      countersign: (event, version) => federation.countersignInvite(event, version),
    });
  }

  async leave(roomId: string, userId: string, reason?: string): Promise<void> {
    this.deps.engine.requireRoom(roomId);
    const current = await this.deps.engine.membershipOf(userId, roomId);
    if (this.deps.federation && (current === 'invite' || current === 'knock') && !(await this.deps.engine.participates(roomId))) {
      // Rejecting a remote invite, or withdrawing a knock: through the room's servers.
      const event = await this.deps.federation.leave(userId, roomId, await this.inviterServers(userId, roomId));
      await this.deps.engine.recordOutsiderMembership(this.deps.engine.requireRoom(roomId), event);
      return;
    }
    if (current === undefined || current === 'leave') {
      // Synapse answers leaving a room you are not in with 403; the spec leaves it open.
      throw forbidden('You are not a member of this room');
    }
    if (current === 'ban') return;
    await this.setMembership(roomId, userId, userId, reason ? { membership: 'leave', reason } : { membership: 'leave' });
  }

  /**
   * Leaves every room the user is joined to, invited to or knocking on (a deactivated account,
   * client-server "Account deactivation": Synapse parts the user from all rooms).
   */
  async leaveAll(userId: string): Promise<void> {
    for (const m of await this.deps.engine.roomsOf(userId)) {
      if (m.membership === 'join' || m.membership === 'invite' || m.membership === 'knock') await this.leave(m.roomId, userId);
    }
  }

  async kick(roomId: string, sender: string, target: string, reason?: string): Promise<void> {
    this.requireUserId(target);
    this.deps.engine.requireRoom(roomId);
    const current = await this.deps.engine.membershipOf(target, roomId);
    if (current !== 'join' && current !== 'invite' && current !== 'knock') throw forbidden(`${target} is not in the room`);
    await this.setMembership(roomId, sender, target, reason ? { membership: 'leave', reason } : { membership: 'leave' });
  }

  async ban(roomId: string, sender: string, target: string, reason?: string): Promise<void> {
    this.requireUserId(target);
    this.deps.engine.requireRoom(roomId);
    await this.setMembership(roomId, sender, target, reason ? { membership: 'ban', reason } : { membership: 'ban' });
  }

  async unban(roomId: string, sender: string, target: string, reason?: string): Promise<void> {
    this.requireUserId(target);
    this.deps.engine.requireRoom(roomId);
    if ((await this.deps.engine.membershipOf(target, roomId)) !== 'ban') throw forbidden(`${target} is not banned`);
    await this.setMembership(roomId, sender, target, reason ? { membership: 'leave', reason } : { membership: 'leave' });
  }

  /** Sends an updated member event into every room the user is joined to (client-server "Profiles"). */
  async propagateProfile(userId: string, profile: { displayname?: string; avatar_url?: string }): Promise<void> {
    const rooms = await this.deps.engine.roomsOf(userId);
    for (const entry of rooms) {
      if (entry.membership !== 'join') continue;
      const current = await this.deps.engine.stateEvent(entry.roomId, 'm.room.member', userId);
      const content: JsonObject = { ...(current?.pdu.content ?? {}), membership: 'join' };
      delete content.displayname;
      delete content.avatar_url;
      if (profile.displayname !== undefined && profile.displayname !== null) content.displayname = profile.displayname;
      if (profile.avatar_url !== undefined && profile.avatar_url !== null) content.avatar_url = profile.avatar_url;
      try {
        await this.deps.engine.sendEvent(entry.roomId, { type: 'm.room.member', sender: userId, state_key: userId, content });
      } catch (err) {
        // One room refusing (e.g. a ban raced the update) must not stop the others.
        if (!(err instanceof MatrixError)) throw err;
      }
    }
  }

  private async setMembership(roomId: string, sender: string, target: string, content: JsonObject): Promise<void> {
    await this.deps.engine.sendEvent(roomId, { type: 'm.room.member', sender, state_key: target, content });
  }

  private async requireJoined(userId: string, roomId: string): Promise<void> {
    if (!(await this.deps.engine.isJoined(userId, roomId))) throw forbidden('You are not joined to this room');
  }

  private requireUserId(userId: unknown): asserts userId is string {
    if (typeof userId !== 'string' || !isValidUserId(userId)) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Invalid user_id');
  }

  /** The room a client names, and servers that may know it (the ones given, the alias's, the room id's). */
  private async locateRoom(roomIdOrAlias: string, via: string[]): Promise<{ roomId: string; servers: string[] }> {
    if (roomIdOrAlias.startsWith('#')) {
      if (!isValidRoomAlias(roomIdOrAlias)) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Invalid room alias');
      const local = await this.deps.resolveAlias(roomIdOrAlias);
      if (local) return { roomId: local, servers: via };
      const server = serverNameOf(roomIdOrAlias);
      if (this.deps.federation && server && server !== this.deps.serverName) {
        const remote = await this.deps.federation.resolveAlias(roomIdOrAlias);
        if (remote) return { roomId: remote.roomId, servers: [...via, ...remote.servers, server] };
      }
      throw notFound(`Room alias ${roomIdOrAlias} not found`);
    }
    if (!isValidRoomId(roomIdOrAlias)) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Invalid room id');
    if (!this.deps.federation) this.deps.engine.requireRoom(roomIdOrAlias);
    const domain = serverNameOf(roomIdOrAlias);
    return { roomId: roomIdOrAlias, servers: domain ? [...via, domain] : via };
  }

  /** The server of whoever invited `userId` (or of the room they knocked on): where a join or rejection goes. */
  private async inviterServers(userId: string, roomId: string): Promise<string[]> {
    const entry = this.deps.engine.room(roomId) ? await this.deps.engine.membershipEntry(userId, roomId) : undefined;
    const event = entry ? await this.deps.engine.getEvent(entry.eventId) : undefined;
    const servers: string[] = [];
    if (event) {
      const sender = serverNameOf(event.pdu.sender);
      if (sender && sender !== this.deps.serverName) servers.push(sender);
      for (const stripped of event.meta.inviteState ?? []) {
        const server = typeof stripped.sender === 'string' ? serverNameOf(stripped.sender) : undefined;
        if (server && server !== this.deps.serverName) servers.push(server);
      }
    }
    const domain = serverNameOf(roomId);
    if (domain) servers.push(domain);
    return [...new Set(servers)];
  }
}
