/**
 * The room versions this server speaks, as a table of the rules that differ between them.
 * Everything that branches on a room version (auth rules, state resolution, redaction, event ids,
 * room ids) reads a field here instead of comparing version strings.
 *
 * Sources: rooms/v10.md, rooms/v11.md, rooms/v12.md and the fragments they include.
 * All three versions share: event ids are reference hashes (rooms/v4 "Event IDs"), strict
 * canonical JSON (rooms/v6), signing-key validity periods (rooms/v5), knocking (v7) and
 * restricted joins (v8/v9).
 */
import type { RoomVersionId } from './types.js';

/** Which redaction algorithm applies (see redaction.ts for the key lists). */
export type RedactionAlgorithm =
  /** rooms/v9 "Redactions", used unchanged by v10. */
  | 'v9'
  /** rooms/v11 "Redactions", used unchanged by v12. */
  | 'v11';

export interface RoomVersionRules {
  id: RoomVersionId;
  /** Advertised in the `m.room_versions` capability (client-server "Capabilities"). */
  stability: 'stable' | 'unstable';

  /**
   * State resolution algorithm. 'v2' is rooms/v2 "State resolution"; 'v2.1' is rooms/v12
   * "State resolution": iterative auth checks in step 2 start from an empty state map, and the
   * full conflicted set also includes the conflicted state subgraph.
   */
  stateResolution: 'v2' | 'v2.1';

  /** rooms/v9 vs rooms/v11 "Redactions". */
  redactionAlgorithm: RedactionAlgorithm;

  /**
   * rooms/v11 "Moving the redacts property of m.room.redaction events to a content property":
   * true means `m.room.redaction` carries `content.redacts`; false means the top-level `redacts`.
   */
  redactsInContent: boolean;

  /**
   * Who "the creator" is in the first-join rule (v10 auth rule 4.3.1 uses `content.creator` of
   * the create event; v11 rule 4.3.1 and v12 rule 5.3.1 use the create event's `sender`).
   * Also: v10 auth rule 1.4 rejects a create event whose content has no `creator`, and servers
   * must write `creator` when creating v10 rooms; v11 removes the property.
   */
  createContentHasCreator: boolean;

  /**
   * rooms/v12 "Event format" and auth rule 1.2: the create event has no `room_id`, and the room
   * id of every event is the create event's event id with `!` in place of `$` (appendices
   * "Room IDs"). When false (v10, v11), room ids are `!opaque:server` and create-event auth
   * rule 1.2 checks that the room id's domain equals the sender's.
   */
  roomIdIsCreateEventHash: boolean;

  /**
   * rooms/v12 auth rule 3.2 and "Auth events selection": the create event MUST NOT be listed in
   * `auth_events` (the room id implies it). In v10/v11 it MUST be listed (rule 2.2, 2.4).
   */
  createEventInAuthEvents: boolean;

  /**
   * rooms/v12 auth rule 1.4: `content.additional_creators` on the create event, an array of
   * valid user ids, names further room creators.
   */
  additionalCreators: boolean;

  /**
   * rooms/v12 "Authorisation rules" note and rule 10.4: room creators (create event `sender`
   * plus `additional_creators`) have an infinitely high power level, and a power levels event
   * whose `users` names any of them is rejected.
   */
  creatorsHaveInfinitePower: boolean;

  /** rooms/v10 auth rules 9.1-9.2: power level values must be integers, never strings. */
  integerPowerLevels: boolean;

  /** rooms/v10: the `knock_restricted` join rule (auth rules 4.3.5 and 4.7.1). */
  knockRestrictedJoinRule: boolean;
}

const V10: RoomVersionRules = {
  id: '10',
  stability: 'stable',
  stateResolution: 'v2',
  redactionAlgorithm: 'v9',
  redactsInContent: false,
  createContentHasCreator: true,
  roomIdIsCreateEventHash: false,
  createEventInAuthEvents: true,
  additionalCreators: false,
  creatorsHaveInfinitePower: false,
  integerPowerLevels: true,
  knockRestrictedJoinRule: true,
};

/** rooms/v11: v10 with the v11 redaction algorithm, `redacts` in content, no `creator`. */
const V11: RoomVersionRules = {
  ...V10,
  id: '11',
  redactionAlgorithm: 'v11',
  redactsInContent: true,
  createContentHasCreator: false,
};

/** rooms/v12: v11 with hashed room ids, room creators, and state resolution v2.1. */
const V12: RoomVersionRules = {
  ...V11,
  id: '12',
  stateResolution: 'v2.1',
  roomIdIsCreateEventHash: true,
  createEventInAuthEvents: false,
  additionalCreators: true,
  creatorsHaveInfinitePower: true,
};

const RULES_BY_ID: ReadonlyMap<string, Readonly<RoomVersionRules>> = new Map(
  [V10, V11, V12].map((rules) => [rules.id, Object.freeze(rules)]),
);

/** Room versions this server creates and joins, oldest first. */
export const SUPPORTED_ROOM_VERSIONS: readonly RoomVersionId[] = Object.freeze(['10', '11', '12']);

/** Version for new rooms when the client names none (client-server "Capabilities": `m.room_versions.default`). */
export const DEFAULT_ROOM_VERSION: RoomVersionId = '11';

/** The rules of a supported room version, or undefined for any other version string. */
export function getRoomVersionRules(id: string): Readonly<RoomVersionRules> | undefined {
  return RULES_BY_ID.get(id);
}

export function isSupportedRoomVersion(id: string): id is RoomVersionId {
  return RULES_BY_ID.has(id);
}
