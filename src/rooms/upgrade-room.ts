/**
 * Room upgrades (client-server "Room Upgrades", "Server behaviour"): POST /rooms/{roomId}/upgrade
 * replaces a room by a new one of another room version. In order:
 *  1. the user must be allowed to send `m.room.tombstone` in the old room;
 *  2. the new room's create event names its `predecessor` and keeps the old room's `type` (and
 *     `m.federate`, as Synapse does: a device room that did not federate still does not);
 *  3. the transferable state is copied (the spec's recommended list, plus the canonical alias);
 *  4. local aliases move to the new room, and so does a public directory listing;
 *  5. the old room gets its tombstone;
 *  6. the old room's power levels stop events and invites from ordinary users.
 * Memberships are not copied: members follow the tombstone and join the new room themselves.
 */
import type { JsonObject, RoomVersionId } from '../core/types.js';
import { stateKey } from '../core/types.js';
import { getRoomVersionRules, isSupportedRoomVersion, type RoomVersionRules } from '../core/room-versions.js';
import { isJsonObject } from '../core/json-object.js';
import { getRequiredPowerForEvent, getRoomCreators, getUserPowerLevel, isPowerLevelValue, powerLevelOf } from '../state/power-levels.js';
import { ErrCode, MatrixError, forbidden } from '../core/errors.js';
import type { EventDraft, RoomEngine } from './engine.js';
import type { CreateRoomDeps } from './create-room.js';

/** client-server "Room Upgrades", step 3: the recommended transferable state (power levels apart). */
const TRANSFERRED_STATE = [
  'm.room.server_acl',
  'm.room.encryption',
  'm.room.name',
  'm.room.avatar',
  'm.room.topic',
  'm.room.guest_access',
  'm.room.history_visibility',
  'm.room.join_rules',
  'm.room.canonical_alias',
] as const;

export interface UpgradeRoomDeps extends CreateRoomDeps {
  aliasesOf(roomId: string): Promise<string[]>;
  visibilityOf(roomId: string): Promise<'public' | 'private'>;
}

export interface UpgradeRoomRequest {
  roomId: string;
  userId: string;
  newVersion: string;
  /** rooms/v12: co-creators of the new room (never carried over implicitly, per the spec). */
  additionalCreators?: string[];
}

export async function upgradeRoom(deps: UpgradeRoomDeps, req: UpgradeRoomRequest): Promise<string> {
  const { engine } = deps;
  const oldRoom = engine.requireRoom(req.roomId);
  if (!isSupportedRoomVersion(req.newVersion)) {
    throw new MatrixError(400, ErrCode.UNSUPPORTED_ROOM_VERSION, `Room version ${req.newVersion} is not supported`);
  }
  const newVersion = req.newVersion as RoomVersionId;
  const newRules = getRoomVersionRules(newVersion)!;
  const oldRules = engine.rulesOf(oldRoom);
  const state = await engine.currentState(req.roomId);

  // 1. The right to send the tombstone (also implies membership: the power check needs a join).
  if (!(await engine.isJoined(req.userId, req.roomId))) throw forbidden('You are not in this room');
  const userLevel = getUserPowerLevel(req.userId, state, oldRules);
  if (userLevel < getRequiredPowerForEvent('m.room.tombstone', true, state, oldRules)) {
    throw forbidden('You do not have the power to upgrade this room (m.room.tombstone)');
  }
  if (req.additionalCreators !== undefined && !newRules.additionalCreators) {
    throw new MatrixError(400, ErrCode.INVALID_PARAM, `Room version ${newVersion} has no additional creators`);
  }

  // 2. The create event.
  const oldCreate = state.get(stateKey('m.room.create', ''));
  const createContent: JsonObject = { predecessor: { room_id: req.roomId, event_id: lastEventIdOf(engine, req.roomId) } };
  for (const field of ['type', 'm.federate']) {
    const value = oldCreate?.pdu.content[field];
    if (value !== undefined) createContent[field] = value;
  }
  if (req.additionalCreators?.length) createContent.additional_creators = req.additionalCreators;
  const newCreators = new Set([req.userId, ...(req.additionalCreators ?? [])]);

  // 3. State: power levels first (the user must be able to send the rest), then the others.
  const state0 = (type: string, content: JsonObject, key = ''): EventDraft => ({ type, sender: req.userId, content, state_key: key });
  const drafts: EventDraft[] = [state0('m.room.member', { membership: 'join', ...(await deps.profileOf(req.userId)) }, req.userId)];
  const oldPowerLevels = normalisedPowerLevels(state.get(stateKey('m.room.power_levels', ''))?.pdu.content ?? {}, oldRules);
  const finalPowerLevels = transferPowerLevels(oldPowerLevels, {
    oldCreators: oldRules.creatorsHaveInfinitePower ? getRoomCreators(oldCreate, oldRules) : new Set(),
    newCreators: newRules.creatorsHaveInfinitePower ? newCreators : new Set(),
  });
  // Synapse's way when the copied levels would not let the upgrader send the copied state: send
  // them raised first, the exact copy last.
  const users = (finalPowerLevels.users ?? {}) as JsonObject;
  const needed = Math.max(numberOr(finalPowerLevels.state_default, 50), ...Object.values((finalPowerLevels.events ?? {}) as JsonObject).map((v) => numberOr(v, 0)));
  const ownLevel = numberOr(users[req.userId], numberOr(finalPowerLevels.users_default, 0));
  const raiseFirst = !newRules.creatorsHaveInfinitePower && ownLevel < needed;
  drafts.push(state0('m.room.power_levels', raiseFirst ? { ...finalPowerLevels, users: { ...users, [req.userId]: needed } } : finalPowerLevels));
  for (const type of TRANSFERRED_STATE) {
    const event = state.get(stateKey(type, ''));
    if (event && Object.keys(event.pdu.content).length > 0) drafts.push(state0(type, event.pdu.content));
  }
  if (raiseFirst) drafts.push(state0('m.room.power_levels', finalPowerLevels));

  const newRoomId = await engine.createRoom(newVersion, req.userId, createContent, drafts);

  // 4. Aliases and the directory listing.
  for (const alias of await deps.aliasesOf(req.roomId)) await deps.setAlias(alias, newRoomId, req.userId);
  if ((await deps.visibilityOf(req.roomId)) === 'public') {
    await deps.setVisibility(newRoomId, 'public');
    await deps.setVisibility(req.roomId, 'private');
  }

  // 5. The tombstone.
  await engine.sendEvent(req.roomId, state0('m.room.tombstone', { body: 'This room has been replaced', replacement_room: newRoomId }));

  // 6. Quieten the old room, if the user may change its power levels.
  const restricted = Math.max(50, numberOr(oldPowerLevels.users_default, 0) + 1);
  try {
    await engine.sendEvent(req.roomId, state0('m.room.power_levels', { ...oldPowerLevels, events_default: restricted, invite: restricted }));
  } catch (err) {
    if (!(err instanceof MatrixError && err.status === 403)) throw err;
  }
  return newRoomId;
}

/**
 * The old power levels for the new room. rooms/v12 creators have infinite power and may not be
 * listed in `users`: leaving such a room, its creators get 100 (their old power in practice);
 * entering one, the new creators are taken out of `users`.
 */
function transferPowerLevels(content: JsonObject, { oldCreators, newCreators }: { oldCreators: Set<string>; newCreators: Set<string> }): JsonObject {
  const users: JsonObject = { ...((content.users ?? {}) as JsonObject) };
  for (const creator of oldCreators) if (!newCreators.has(creator)) users[creator] = 100;
  for (const creator of newCreators) delete users[creator];
  return { ...content, users };
}

/**
 * Power levels as integers: a room before v10 may hold strings ("50", fragment
 * v1-stringy-power-levels) and, before v6, floats; the new room's auth rules (v10 9.1-9.3) take
 * integers only. Each value becomes the level the old room read it as; values it read as none go.
 */
function normalisedPowerLevels(content: JsonObject, oldRules: RoomVersionRules): JsonObject {
  const out: JsonObject = { ...content };
  for (const key of ['ban', 'events_default', 'invite', 'kick', 'redact', 'state_default', 'users_default']) {
    if (out[key] === undefined) continue;
    const level = powerLevelOf(out[key], oldRules);
    if (level === undefined) delete out[key];
    else out[key] = level;
  }
  for (const key of ['events', 'notifications', 'users']) {
    const map = out[key];
    if (map === undefined) continue;
    const levels: JsonObject = {};
    if (isJsonObject(map)) {
      for (const [name, value] of Object.entries(map)) {
        const level = powerLevelOf(value, oldRules);
        if (level !== undefined) levels[name] = level;
      }
    }
    out[key] = levels;
  }
  return out;
}

function numberOr(value: unknown, fallback: number): number {
  return isPowerLevelValue(value as never) ? (value as number) : fallback;
}

function lastEventIdOf(engine: RoomEngine, roomId: string): string {
  const head = engine.headOf(roomId);
  if (!head?.extremities[0]) throw new Error('room without a head');
  return head.extremities[0];
}
