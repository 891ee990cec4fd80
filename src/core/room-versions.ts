/**
 * The room versions this server speaks, as a table of the rules that differ between them.
 * Everything that branches on a room version (event formats, auth rules, state resolution,
 * redaction, event ids, room ids, canonical JSON strictness, signing-key validity) reads a field
 * here instead of comparing version strings.
 *
 * Sources: rooms/v1.md .. rooms/v12.md and the fragments they include (rooms/fragments/*), and
 * the feature matrix of rooms/_index.md. Each version is written as the one before it plus what
 * its own page lists under "Server implementation components".
 */
import type { RoomVersionId } from './types.js';

/** Which redaction algorithm applies (see redaction.ts for the key lists). */
export type RedactionAlgorithm =
  /** rooms/v1 "Redactions" (fragment v1-redactions), used by v1-v5. */
  | 'v1'
  /** rooms/v6 "Redactions": `m.room.aliases` keeps nothing any more; v6 and v7. */
  | 'v6'
  /** rooms/v8 "Redactions": `m.room.join_rules` also keeps `allow`. */
  | 'v8'
  /** rooms/v9 "Redactions": `m.room.member` also keeps `join_authorised_via_users_server`; v9, v10. */
  | 'v9'
  /** rooms/v11 "Redactions", used unchanged by v12. */
  | 'v11';

/**
 * How event ids are formed, and with them how `prev_events`/`auth_events` are written.
 * - 'server-generated': rooms/v1 "Event IDs": `$opaque:server`, chosen by the sending server and
 *   carried in the event; `prev_events`/`auth_events` are `[event_id, {sha256}]` pairs (pdu_v1).
 * - 'reference-hash': rooms/v3 "Event IDs": `$` + unpadded standard base64 of the reference hash.
 * - 'url-safe-reference-hash': rooms/v4 "Event IDs": the same in URL-safe unpadded base64.
 * From v3, `prev_events`/`auth_events` are plain event ids.
 */
export type EventIdFormat = 'server-generated' | 'reference-hash' | 'url-safe-reference-hash';

export interface RoomVersionRules {
  id: RoomVersionId;
  /** Advertised in the `m.room_versions` capability (client-server "Capabilities"). */
  stability: 'stable' | 'unstable';

  /** rooms/v1, v3 and v4 "Event IDs" and "Event format". */
  eventIdFormat: EventIdFormat;

  /**
   * rooms/v3 auth rules preamble: in room versions 1 and 2 an event needs a signature from the
   * server named in its `event_id` as well as from the `sender`'s server (server-server
   * "Validating hashes and signatures on received events"). From v3 only the sender's server.
   */
  eventIdServerMustSign: boolean;

  /**
   * State resolution algorithm. 'v1' is rooms/v1 "State resolution"; 'v2' is rooms/v2 "State
   * resolution" (v2-v11); 'v2.1' is rooms/v12 "State resolution": iterative auth checks in step 2
   * start from an empty state map, and the full conflicted set also includes the conflicted state
   * subgraph.
   */
  stateResolution: 'v1' | 'v2' | 'v2.1';

  /** Which "Redactions" section applies (v1, v6, v8, v9, v11). */
  redactionAlgorithm: RedactionAlgorithm;

  /**
   * rooms/v1 auth rule 11: an `m.room.redaction` is authorised only if the sender reaches the
   * redact level or the redacted event's id has the redaction's id domain. From v3 the auth rules
   * have no redaction rule ("Handling redactions": the check moves to when the redaction is applied).
   */
  redactionAuthRule: boolean;

  /**
   * rooms/v11 "Moving the redacts property of m.room.redaction events to a content property":
   * true means `m.room.redaction` carries `content.redacts`; false means the top-level `redacts`.
   */
  redactsInContent: boolean;

  /**
   * Who "the creator" is in the first-join rule (v1-v10 auth rule "join" 1 uses `content.creator`
   * of the create event; v11 rule 4.3.1 and v12 rule 5.3.1 use the create event's `sender`).
   * Also: v1-v10 create rule 1.4 rejects a create event whose content has no `creator`, and
   * servers must write `creator` when creating those rooms; v11 removes the property.
   */
  createContentHasCreator: boolean;

  /**
   * rooms/v12 "Event format" and auth rule 1.2: the create event has no `room_id`, and the room
   * id of every event is the create event's event id with `!` in place of `$` (appendices
   * "Room IDs"). When false (v1-v11), room ids are `!opaque:server` and create-event auth
   * rule 1.2 checks that the room id's domain equals the sender's.
   */
  roomIdIsCreateEventHash: boolean;

  /**
   * rooms/v12 auth rule 3.2 and "Auth events selection": the create event MUST NOT be listed in
   * `auth_events` (the room id implies it). In v1-v11 it MUST be listed (rule 2.2, 2.4).
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

  /**
   * rooms/v10 auth rules 9.1-9.2: every power level value must be an integer, never a string.
   * Before v10 (fragment v1-stringy-power-levels) values may be strings holding an integer, and
   * only `users` is validated (rule 10.1 / 9.1: "integers (or a string that is an integer)").
   */
  integerPowerLevels: boolean;

  /**
   * rooms/v1 auth rule 4 (removed by rooms/v6 "Authorisation rules"): an `m.room.aliases` event
   * needs a `state_key` equal to the sender's domain, and is then allowed without further checks.
   */
  aliasesAuthRule: boolean;

  /**
   * rooms/v6 "Authorisation rules": power levels rules 9.4-9.5 also check the `notifications`
   * entries (before v6 only `events`).
   */
  notificationsPowerLevels: boolean;

  /** rooms/v7 "Authorisation rules": `membership: knock`, the `knock` join rule, leaving a knock. */
  knocking: boolean;

  /**
   * rooms/v8 "Authorisation rules": the `restricted` join rule and
   * `content.join_authorised_via_users_server` (member rule 2 and join rule 5), and the
   * authorising user's member event in "Auth events selection".
   */
  restrictedJoinRule: boolean;

  /** rooms/v10: the `knock_restricted` join rule (auth rules 4.3.5 and 4.7.1). */
  knockRestrictedJoinRule: boolean;

  /**
   * rooms/v5 "Signing key validity period": a signature counts only when the key's
   * `valid_until_ts` (capped at 7 days from now) is at least the event's `origin_server_ts`.
   * Before v5 an expired key still verifies old events. Read by federation's signature checks.
   */
  enforceKeyValidity: boolean;

  /**
   * rooms/v6 "Canonical JSON" and "Event format": servers MUST strictly enforce canonical JSON
   * (integers in [-(2^53)+1, 2^53-1], no floats); an event that is not is discarded over
   * federation and refused with 400 M_BAD_JSON from clients. Before v6 (fragment
   * v1-canonical-json) servers MUST NOT enforce it: floats occur, and are hashed as written.
   */
  strictCanonicalJson: boolean;
}

/** rooms/v1: the building blocks every later version changes. */
const V1: RoomVersionRules = {
  id: '1',
  stability: 'stable',
  eventIdFormat: 'server-generated',
  eventIdServerMustSign: true,
  stateResolution: 'v1',
  redactionAlgorithm: 'v1',
  redactionAuthRule: true,
  redactsInContent: false,
  createContentHasCreator: true,
  roomIdIsCreateEventHash: false,
  createEventInAuthEvents: true,
  additionalCreators: false,
  creatorsHaveInfinitePower: false,
  integerPowerLevels: false,
  aliasesAuthRule: true,
  notificationsPowerLevels: false,
  knocking: false,
  restrictedJoinRule: false,
  knockRestrictedJoinRule: false,
  enforceKeyValidity: false,
  strictCanonicalJson: false,
};

/** rooms/v2: state resolution v2. */
const V2: RoomVersionRules = { ...V1, id: '2', stateResolution: 'v2' };

/** rooms/v3: event ids are reference hashes; redactions leave the auth rules ("Handling redactions"). */
const V3: RoomVersionRules = {
  ...V2,
  id: '3',
  eventIdFormat: 'reference-hash',
  eventIdServerMustSign: false,
  redactionAuthRule: false,
};

/** rooms/v4: URL-safe event ids. */
const V4: RoomVersionRules = { ...V3, id: '4', eventIdFormat: 'url-safe-reference-hash' };

/** rooms/v5: signing keys' validity periods are enforced. */
const V5: RoomVersionRules = { ...V4, id: '5', enforceKeyValidity: true };

/**
 * rooms/v6: `m.room.aliases` loses its auth rule and its redaction protection, `notifications`
 * in power levels is checked, canonical JSON is enforced.
 */
const V6: RoomVersionRules = {
  ...V5,
  id: '6',
  redactionAlgorithm: 'v6',
  aliasesAuthRule: false,
  notificationsPowerLevels: true,
  strictCanonicalJson: true,
};

/** rooms/v7: knocking. */
const V7: RoomVersionRules = { ...V6, id: '7', knocking: true };

/** rooms/v8: restricted joins (`allow` survives redaction). */
const V8: RoomVersionRules = { ...V7, id: '8', redactionAlgorithm: 'v8', restrictedJoinRule: true };

/** rooms/v9: `join_authorised_via_users_server` survives redaction. */
const V9: RoomVersionRules = { ...V8, id: '9', redactionAlgorithm: 'v9' };

/** rooms/v10: integer-only power levels and the `knock_restricted` join rule. */
const V10: RoomVersionRules = { ...V9, id: '10', integerPowerLevels: true, knockRestrictedJoinRule: true };

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

const ALL = [V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12];

const RULES_BY_ID: ReadonlyMap<string, Readonly<RoomVersionRules>> = new Map(
  ALL.map((rules) => [rules.id, Object.freeze(rules)]),
);

/** Room versions this server creates and joins, oldest first. */
export const SUPPORTED_ROOM_VERSIONS: readonly RoomVersionId[] = Object.freeze(ALL.map((rules) => rules.id));

/**
 * The version for new rooms when neither the client nor `hearth.yaml` (`default_room_version`)
 * names one: the spec's recommendation (rooms/_index "Complete list of room versions").
 */
export const DEFAULT_ROOM_VERSION: RoomVersionId = '12';

/** The rules of a supported room version, or undefined for any other version string. */
export function getRoomVersionRules(id: string): Readonly<RoomVersionRules> | undefined {
  return RULES_BY_ID.get(id);
}

export function isSupportedRoomVersion(id: string): id is RoomVersionId {
  return RULES_BY_ID.has(id);
}
