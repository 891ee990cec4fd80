/**
 * Membership changes of local users (client-server-api "Room membership"): join, knock, invite,
 * leave, kick, ban, unban, and profile propagation into member events. The auth rules decide whether a
 * change is allowed; this module only shapes the events.
 */
import type { JsonObject } from '../core/types.js';
import { isValidRoomAlias, isValidRoomId, isValidUserId } from '../core/identifiers.js';
import { ErrCode, MatrixError, forbidden, notFound } from '../core/errors.js';
import type { RoomEngine } from './engine.js';

export interface MembershipDeps {
  engine: RoomEngine;
  serverName: string;
  profileOf(userId: string): Promise<{ displayname?: string; avatar_url?: string }>;
  resolveAlias(alias: string): Promise<string | undefined>;
}

export class MembershipService {
  constructor(private readonly deps: MembershipDeps) {}

  /** POST /join/{roomIdOrAlias} and /rooms/{roomId}/join. Only rooms this server knows (no federation yet). */
  async join(roomIdOrAlias: string, userId: string, reason?: string): Promise<string> {
    const roomId = await this.resolveRoom(roomIdOrAlias);
    const current = await this.deps.engine.membershipOf(userId, roomId);
    const profile = await this.deps.profileOf(userId);
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
  async knock(roomIdOrAlias: string, userId: string, reason?: string): Promise<string> {
    const roomId = await this.resolveRoom(roomIdOrAlias);
    const current = await this.deps.engine.membershipOf(userId, roomId);
    if (current === 'join') throw forbidden('You are already in the room');
    if (current === 'ban') throw forbidden('You are banned from the room');
    if (current === 'invite') throw forbidden('You are already invited: join instead');
    const content: JsonObject = { membership: 'knock', ...(await this.deps.profileOf(userId)) };
    if (reason) content.reason = reason;
    await this.deps.engine.sendEvent(roomId, { type: 'm.room.member', sender: userId, state_key: userId, content });
    return roomId;
  }

  async invite(roomId: string, sender: string, target: string, reason?: string): Promise<void> {
    this.requireUserId(target);
    this.deps.engine.requireRoom(roomId);
    await this.requireJoined(sender, roomId);
    const current = await this.deps.engine.membershipOf(target, roomId);
    if (current === 'join') throw forbidden(`${target} is already in the room`);
    if (current === 'ban') throw forbidden(`${target} is banned from the room`);
    const content: JsonObject = { membership: 'invite', ...(await this.deps.profileOf(target)) };
    if (reason) content.reason = reason;
    await this.setMembership(roomId, sender, target, content);
  }

  async leave(roomId: string, userId: string, reason?: string): Promise<void> {
    this.deps.engine.requireRoom(roomId);
    const current = await this.deps.engine.membershipOf(userId, roomId);
    if (current === undefined || current === 'leave') {
      // Synapse answers leaving a room you are not in with 403; the spec leaves it open.
      throw forbidden('You are not a member of this room');
    }
    if (current === 'ban') return;
    await this.setMembership(roomId, userId, userId, reason ? { membership: 'leave', reason } : { membership: 'leave' });
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

  private async resolveRoom(roomIdOrAlias: string): Promise<string> {
    if (roomIdOrAlias.startsWith('#')) {
      if (!isValidRoomAlias(roomIdOrAlias)) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Invalid room alias');
      const roomId = await this.deps.resolveAlias(roomIdOrAlias);
      if (!roomId) throw notFound(`Room alias ${roomIdOrAlias} not found`);
      return roomId;
    }
    if (!isValidRoomId(roomIdOrAlias)) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Invalid room id');
    this.deps.engine.requireRoom(roomIdOrAlias);
    return roomIdOrAlias;
  }
}
