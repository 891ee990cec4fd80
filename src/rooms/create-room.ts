/**
 * Room creation (client-server-api "Creation", POST /createRoom): validates the request and turns it
 * into the spec's ordered list of events: create, the creator's join, power levels, canonical alias,
 * the preset's join rules / history visibility / guest access, initial_state, name, topic, invites.
 */
import type { JsonObject, RoomVersionId } from '../core/types.js';
import { isJsonObject } from '../core/json-object.js';
import { DEFAULT_ROOM_VERSION, getRoomVersionRules, isSupportedRoomVersion } from '../core/room-versions.js';
import { isValidRoomAlias, isValidUserId, serverNameOf } from '../core/identifiers.js';
import { ErrCode, MatrixError, badJson, forbidden } from '../core/errors.js';
import type { EventDraft, RoomEngine } from './engine.js';

export type Preset = 'private_chat' | 'public_chat' | 'trusted_private_chat';

export interface CreateRoomRequest {
  creator: string;
  visibility?: 'public' | 'private';
  roomAliasName?: string;
  name?: string;
  topic?: string;
  invite?: string[];
  roomVersion?: string;
  creationContent?: JsonObject;
  initialState?: { type: string; state_key?: string; content: JsonObject }[];
  preset?: Preset;
  isDirect?: boolean;
  powerLevelContentOverride?: JsonObject;
}

export interface CreateRoomDeps {
  engine: RoomEngine;
  serverName: string;
  /** The profile fields copied into the creator's and invitees' member events. */
  profileOf(userId: string): Promise<{ displayname?: string; avatar_url?: string }>;
  /** Resolves an alias to a room id, for the "alias already taken" check. */
  aliasTaken(alias: string): Promise<boolean>;
  setAlias(alias: string, roomId: string, creator: string): Promise<void>;
  setVisibility(roomId: string, visibility: 'public' | 'private'): Promise<void>;
  /** The version of rooms created without one (hearth.yaml `default_room_version`); else the spec's recommendation. */
  defaultRoomVersion?: RoomVersionId;
  /**
   * Invites a user of another server once the room exists (their server countersigns the invite:
   * server-server "Inviting to a room"); absent when federation is off.
   */
  inviteRemote?(roomId: string, sender: string, invitee: string, isDirect: boolean): Promise<void>;
}

const PRESET_STATE: Record<Preset, { joinRule: string; historyVisibility: string; guestAccess: string }> = {
  private_chat: { joinRule: 'invite', historyVisibility: 'shared', guestAccess: 'can_join' },
  trusted_private_chat: { joinRule: 'invite', historyVisibility: 'shared', guestAccess: 'can_join' },
  public_chat: { joinRule: 'public', historyVisibility: 'shared', guestAccess: 'forbidden' },
};

/** Checks a raw /createRoom body and returns it typed; throws M_BAD_JSON / M_INVALID_PARAM. */
export function parseCreateRoomBody(creator: string, body: unknown): CreateRoomRequest {
  if (body === undefined) body = {};
  if (!isJsonObject(body)) throw badJson('Body must be a JSON object');
  const b = body as Record<string, unknown>;
  const str = (k: string) => {
    if (b[k] === undefined) return undefined;
    if (typeof b[k] !== 'string') throw badJson(`${k} must be a string`);
    return b[k] as string;
  };
  const obj = (k: string) => {
    if (b[k] === undefined) return undefined;
    if (!isJsonObject(b[k])) throw badJson(`${k} must be an object`);
    return b[k] as JsonObject;
  };
  const visibility = str('visibility');
  if (visibility !== undefined && visibility !== 'public' && visibility !== 'private') throw badJson('visibility must be public or private');
  const preset = str('preset');
  if (preset !== undefined && !(preset in PRESET_STATE)) throw badJson(`Unknown preset ${preset}`);
  const invite = b.invite;
  // Wrong JSON types are M_BAD_JSON; well-typed but invalid values are M_INVALID_PARAM.
  if (invite !== undefined && (!Array.isArray(invite) || !invite.every((u) => typeof u === 'string'))) {
    throw badJson('invite must be a list of strings');
  }
  if (invite?.some((u: string) => !isValidUserId(u))) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'invite must list user ids');
  const initialState = b.initial_state;
  if (initialState !== undefined) {
    if (!Array.isArray(initialState)) throw badJson('initial_state must be a list');
    for (const s of initialState) {
      if (!s || typeof s !== 'object' || typeof s.type !== 'string' || !s.content || typeof s.content !== 'object') {
        throw badJson('initial_state entries need type and content');
      }
      if (s.state_key !== undefined && typeof s.state_key !== 'string') throw badJson('state_key must be a string');
    }
  }
  if (b.is_direct !== undefined && typeof b.is_direct !== 'boolean') throw badJson('is_direct must be a boolean');
  return {
    creator,
    visibility: visibility as CreateRoomRequest['visibility'],
    roomAliasName: str('room_alias_name'),
    name: str('name'),
    topic: str('topic'),
    invite: invite as string[] | undefined,
    roomVersion: str('room_version'),
    creationContent: obj('creation_content'),
    initialState: initialState as CreateRoomRequest['initialState'],
    preset: preset as Preset | undefined,
    isDirect: b.is_direct as boolean | undefined,
    powerLevelContentOverride: obj('power_level_content_override'),
  };
}

export async function createRoom(deps: CreateRoomDeps, req: CreateRoomRequest): Promise<{ roomId: string; alias?: string }> {
  const version = (req.roomVersion ?? deps.defaultRoomVersion ?? DEFAULT_ROOM_VERSION) as RoomVersionId;
  if (!isSupportedRoomVersion(version)) {
    throw new MatrixError(400, ErrCode.UNSUPPORTED_ROOM_VERSION, `Room version ${req.roomVersion} is not supported`);
  }
  const rules = getRoomVersionRules(version)!;
  const preset: Preset = req.preset ?? (req.visibility === 'public' ? 'public_chat' : 'private_chat');
  const invitees = [...new Set(req.invite ?? [])].filter((u) => u !== req.creator);

  let alias: string | undefined;
  if (req.roomAliasName !== undefined) {
    alias = `#${req.roomAliasName}:${deps.serverName}`;
    // The alias grammar (no NUL, 255 bytes with the server name), and no whitespace or '#' of our own.
    if (!/^[^\s:#]+$/.test(req.roomAliasName) || !isValidRoomAlias(alias)) throw new MatrixError(400, ErrCode.INVALID_PARAM, 'Invalid room_alias_name');
    if (await deps.aliasTaken(alias)) throw new MatrixError(400, ErrCode.ROOM_IN_USE, 'Room alias already taken');
  }

  const createContent: JsonObject = { ...(req.creationContent ?? {}) };
  delete createContent.room_version;
  // rooms/v12: trusted private chats make the invitees co-creators (Synapse does the same).
  if (rules.additionalCreators && preset === 'trusted_private_chat' && invitees.length > 0) {
    createContent.additional_creators = invitees;
  }

  const creatorProfile = await deps.profileOf(req.creator);
  const drafts: EventDraft[] = [];
  const state = (type: string, content: JsonObject, stateKey = ''): EventDraft => ({ type, sender: req.creator, content, state_key: stateKey });

  // 2. The creator joins.
  drafts.push(state('m.room.member', { membership: 'join', ...creatorProfile }, req.creator));

  // 3. Power levels: defaults per preset, then the client's override merged on top.
  const users: JsonObject = {};
  if (!rules.creatorsHaveInfinitePower) {
    users[req.creator] = 100;
    if (preset === 'trusted_private_chat') for (const u of invitees) users[u] = 100;
  }
  const powerLevels: JsonObject = {
    users,
    users_default: 0,
    events: {
      'm.room.name': 50,
      'm.room.power_levels': 100,
      'm.room.history_visibility': 100,
      'm.room.canonical_alias': 50,
      'm.room.avatar': 50,
      'm.room.tombstone': 100,
      'm.room.server_acl': 100,
      'm.room.encryption': 100,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: preset === 'public_chat' ? 50 : 0,
    notifications: { room: 50 },
    ...(req.powerLevelContentOverride ?? {}),
  };
  // rooms/v12: creators have infinite power and the auth rules refuse a `users` entry naming one,
  // so an override written for any version (the MQTT bridge gives its device users 100) drops them.
  if (rules.creatorsHaveInfinitePower && powerLevels.users !== null && typeof powerLevels.users === 'object' && !Array.isArray(powerLevels.users)) {
    const named = { ...(powerLevels.users as JsonObject) };
    for (const creator of [req.creator, ...((createContent.additional_creators as string[] | undefined) ?? [])]) delete named[creator];
    powerLevels.users = named;
  }
  drafts.push(state('m.room.power_levels', powerLevels));

  // 4. Canonical alias.
  if (alias) drafts.push(state('m.room.canonical_alias', { alias }));

  // 5. The preset's state.
  const p = PRESET_STATE[preset];
  drafts.push(state('m.room.join_rules', { join_rule: p.joinRule }));
  drafts.push(state('m.room.history_visibility', { history_visibility: p.historyVisibility }));
  drafts.push(state('m.room.guest_access', { guest_access: p.guestAccess }));

  // 6. initial_state, which may override the preset's events.
  for (const s of req.initialState ?? []) {
    const idx = drafts.findIndex((d) => d.type === s.type && d.state_key === (s.state_key ?? '') && d.type !== 'm.room.member');
    const draft = state(s.type, s.content, s.state_key ?? '');
    if (idx >= 3) drafts[idx] = draft;
    else drafts.push(draft);
  }

  // 7. Name and topic.
  if (req.name !== undefined) drafts.push(state('m.room.name', { name: req.name }));
  if (req.topic !== undefined) {
    drafts.push(state('m.room.topic', { topic: req.topic, 'm.topic': [{ mimetype: 'text/plain', body: req.topic }] }));
  }

  // 8. Invites.
  // Local invitees in the room's first events; others' servers must sign theirs, so those follow.
  const remoteInvitees = invitees.filter((u) => serverNameOf(u) !== deps.serverName);
  if (remoteInvitees.length > 0 && (!deps.inviteRemote || createContent['m.federate'] === false)) {
    throw forbidden('Users of other servers cannot be invited to a room that does not federate');
  }
  for (const invitee of invitees) {
    if (remoteInvitees.includes(invitee)) continue;
    const content: JsonObject = { membership: 'invite', ...(await deps.profileOf(invitee)) };
    if (req.isDirect) content.is_direct = true;
    drafts.push(state('m.room.member', content, invitee));
  }

  const roomId = await deps.engine.createRoom(version, req.creator, createContent, drafts);
  for (const invitee of remoteInvitees) await deps.inviteRemote!(roomId, req.creator, invitee, req.isDirect === true);
  if (alias) await deps.setAlias(alias, roomId, req.creator);
  if (req.visibility === 'public') await deps.setVisibility(roomId, 'public');
  return { roomId, alias };
}
