/**
 * The Client-Server API as a fuzz target: every route family with a seed request (a valid body and
 * query for the fuzzer's own account, room and event), mutated in its body, query, path parameters,
 * content type and access token. Destructive routes (logout, password, deactivation, device
 * deletion) run on a disposable account that is replaced when an input succeeded.
 */
import { Encoder } from 'cbor-x';
import type { Prng } from '../prng.js';
import type { FuzzTarget, Verdict } from '../runner.js';
import { mutateBody, mutateJson } from '../mutate.js';
import { hostileString, randomJson, type Json } from '../values.js';
import { percentEncode, WireClient, type WireRequest } from '../http-wire.js';
import { isValidServerName } from '../../../src/core/identifiers.js';

type Auth = 'user' | 'none' | 'disposable';

interface Session {
  userId: string;
  token: string;
  deviceId: string;
  password: string;
}

/** What seeds refer to: set up once per run. */
export interface CsContext {
  serverName: string;
  user: Session;
  other: Session;
  disposable: Session;
  /** A public room of `user` (with an alias), and a private room `user` is not in. */
  roomId: string;
  alias: string;
  foreignRoomId: string;
  eventId: string;
  filterId: string;
  mediaId: string;
  /** An account and room no input names: the health check's ordinary client. */
  health: Session;
  healthRoomId: string;
}

interface RouteSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** `{name}` placeholders filled from `params`. */
  path: string;
  auth: Auth;
  query?: (c: CsContext) => Record<string, string>;
  body?: (c: CsContext) => Json;
  /** A body that is not JSON (media upload). */
  rawBody?: true;
}

const V3 = '/_matrix/client/v3';
/** The client routes that fetch other servers' media (download and thumbnail, every prefix). */
const REMOTE_MEDIA_ROUTE = /^GET \/_matrix\/(client\/v1\/media|media\/(v3|r0))\/(download|thumbnail)\/\{serverName\}/;
const V1 = '/_matrix/client/v1';

const filter = { room: { timeline: { limit: 5, types: ['m.room.message'] }, state: { lazy_load_members: true } }, presence: { not_types: ['*'] } };

const ROUTES: RouteSpec[] = [
  { method: 'GET', path: '/_matrix/client/versions', auth: 'none' },
  { method: 'GET', path: '/.well-known/matrix/client', auth: 'none' },
  { method: 'POST', path: `${V3}/register`, auth: 'none', body: () => ({ username: 'fuzzreg', password: 'pw', auth: { type: 'm.login.dummy' }, initial_device_display_name: 'd' }) },
  { method: 'GET', path: `${V3}/register/available`, auth: 'none', query: () => ({ username: 'someone' }) },
  { method: 'GET', path: `${V1}/register/m.login.registration_token/validity`, auth: 'none', query: () => ({ token: 'abc' }) },
  { method: 'GET', path: `${V3}/login`, auth: 'none' },
  { method: 'POST', path: `${V3}/login`, auth: 'none', body: (c) => ({ type: 'm.login.password', identifier: { type: 'm.id.user', user: c.user.userId }, password: c.user.password, device_id: 'FUZZDEV' }) },
  { method: 'POST', path: `${V3}/login`, auth: 'none', body: () => ({ type: 'm.login.token', token: 'x' }) },
  { method: 'POST', path: `${V3}/logout`, auth: 'disposable', body: () => ({}) },
  { method: 'POST', path: `${V3}/logout/all`, auth: 'disposable', body: () => ({}) },
  { method: 'POST', path: `${V3}/account/password`, auth: 'disposable', body: (c) => ({ new_password: 'new pw', logout_devices: false, auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: c.disposable.userId }, password: c.disposable.password } }) },
  { method: 'POST', path: `${V3}/account/deactivate`, auth: 'disposable', body: (c) => ({ erase: true, auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: c.disposable.userId }, password: c.disposable.password } }) },
  { method: 'POST', path: `${V3}/delete_devices`, auth: 'disposable', body: (c) => ({ devices: [c.disposable.deviceId], auth: { type: 'm.login.password', user: c.disposable.userId, password: c.disposable.password } }) },
  { method: 'DELETE', path: `${V3}/devices/{disposableDeviceId}`, auth: 'disposable', body: (c) => ({ auth: { type: 'm.login.password', user: c.disposable.userId, password: c.disposable.password } }) },
  { method: 'GET', path: `${V3}/account/whoami`, auth: 'user' },
  { method: 'GET', path: `${V3}/account/3pid`, auth: 'user' },
  { method: 'GET', path: `${V3}/capabilities`, auth: 'user' },
  { method: 'GET', path: `${V3}/devices`, auth: 'user' },
  { method: 'GET', path: `${V3}/devices/{deviceId}`, auth: 'user' },
  { method: 'PUT', path: `${V3}/devices/{deviceId}`, auth: 'user', body: () => ({ display_name: 'phone' }) },
  { method: 'POST', path: `${V3}/createRoom`, auth: 'user', body: (c) => ({ preset: 'private_chat', name: 'r', topic: 't', invite: [c.other.userId], room_version: '11', initial_state: [{ type: 'm.room.guest_access', state_key: '', content: { guest_access: 'can_join' } }], power_level_content_override: { users_default: 0, events: { 'm.room.name': 50 } }, creation_content: { 'm.federate': false } }) },
  { method: 'PUT', path: `${V3}/rooms/{roomId}/send/{eventType}/{txnId}`, auth: 'user', body: () => ({ msgtype: 'm.text', body: 'hello', 'm.relates_to': { rel_type: 'm.thread', event_id: '$x' } }) },
  { method: 'PUT', path: `${V3}/rooms/{roomId}/send/m.room.message/{txnId}`, auth: 'user', body: (c) => ({ msgtype: 'm.text', body: 'reply', 'm.relates_to': { 'm.in_reply_to': { event_id: c.eventId } } }) },
  { method: 'PUT', path: `${V3}/rooms/{roomId}/send/m.reaction/{txnId}`, auth: 'user', body: (c) => ({ 'm.relates_to': { rel_type: 'm.annotation', event_id: c.eventId, key: '👍' } }) },
  { method: 'PUT', path: `${V3}/rooms/{roomId}/state/{eventType}/{stateKey}`, auth: 'user', body: () => ({ name: 'a room' }) },
  { method: 'PUT', path: `${V3}/rooms/{roomId}/state/m.room.power_levels`, auth: 'user', body: (c) => ({ users: { [c.user.userId]: 100 }, users_default: 0, events_default: 0, state_default: 50, ban: 50, kick: 50, redact: 50, invite: 0, events: { 'm.room.name': 50 }, notifications: { room: 50 } }) },
  { method: 'PUT', path: `${V3}/rooms/{roomId}/state/m.room.join_rules`, auth: 'user', body: () => ({ join_rule: 'public' }) },
  { method: 'PUT', path: `${V3}/rooms/{roomId}/state/m.room.member/{userId}`, auth: 'user', body: () => ({ membership: 'join', displayname: 'me' }) },
  { method: 'GET', path: `${V3}/rooms/{roomId}/state`, auth: 'user' },
  { method: 'GET', path: `${V3}/rooms/{roomId}/state/{eventType}/{stateKey}`, auth: 'user', query: () => ({ format: 'event' }) },
  { method: 'GET', path: `${V3}/rooms/{roomId}/event/{eventId}`, auth: 'user' },
  { method: 'GET', path: `${V3}/rooms/{roomId}/context/{eventId}`, auth: 'user', query: () => ({ limit: '5', filter: JSON.stringify({ lazy_load_members: true }) }) },
  { method: 'GET', path: `${V3}/rooms/{roomId}/messages`, auth: 'user', query: () => ({ dir: 'b', limit: '10', filter: JSON.stringify({ types: ['m.room.message'], contains_url: false }) }) },
  { method: 'GET', path: `${V3}/rooms/{roomId}/members`, auth: 'user', query: () => ({ membership: 'join', not_membership: 'leave' }) },
  { method: 'GET', path: `${V3}/rooms/{roomId}/joined_members`, auth: 'user' },
  { method: 'GET', path: `${V3}/rooms/{roomId}/initialSync`, auth: 'user' },
  { method: 'GET', path: `${V3}/rooms/{roomId}/aliases`, auth: 'user' },
  { method: 'PUT', path: `${V3}/rooms/{roomId}/redact/{eventId}/{txnId}`, auth: 'user', body: () => ({ reason: 'spam' }) },
  { method: 'POST', path: `${V3}/rooms/{roomId}/receipt/{receiptType}/{eventId}`, auth: 'user', body: () => ({ thread_id: 'main' }) },
  { method: 'POST', path: `${V3}/rooms/{roomId}/read_markers`, auth: 'user', body: (c) => ({ 'm.fully_read': c.eventId, 'm.read': c.eventId, 'm.read.private': c.eventId }) },
  { method: 'PUT', path: `${V3}/rooms/{roomId}/typing/{userId}`, auth: 'user', body: () => ({ typing: true, timeout: 30000 }) },
  { method: 'POST', path: `${V3}/rooms/{roomId}/invite`, auth: 'user', body: (c) => ({ user_id: c.other.userId, reason: 'hi' }) },
  { method: 'POST', path: `${V3}/rooms/{roomId}/kick`, auth: 'user', body: (c) => ({ user_id: c.other.userId }) },
  { method: 'POST', path: `${V3}/rooms/{roomId}/ban`, auth: 'user', body: (c) => ({ user_id: c.other.userId }) },
  { method: 'POST', path: `${V3}/rooms/{roomId}/unban`, auth: 'user', body: (c) => ({ user_id: c.other.userId }) },
  { method: 'POST', path: `${V3}/rooms/{roomId}/join`, auth: 'user', body: () => ({ reason: 'x' }) },
  { method: 'POST', path: `${V3}/join/{roomIdOrAlias}`, auth: 'user', body: () => ({}), query: (c) => ({ server_name: c.serverName }) },
  { method: 'POST', path: `${V3}/knock/{roomIdOrAlias}`, auth: 'user', body: () => ({ reason: 'let me in' }) },
  { method: 'POST', path: `${V3}/rooms/{foreignRoomId}/leave`, auth: 'user', body: () => ({}) },
  { method: 'POST', path: `${V3}/rooms/{foreignRoomId}/forget`, auth: 'user', body: () => ({}) },
  { method: 'POST', path: `${V3}/rooms/{roomId}/upgrade`, auth: 'user', body: () => ({ new_version: '11' }) },
  { method: 'POST', path: `${V3}/rooms/{roomId}/report/{eventId}`, auth: 'user', body: () => ({ reason: 'bad', score: -100 }) },
  { method: 'POST', path: `${V3}/rooms/{roomId}/report`, auth: 'user', body: () => ({ reason: 'bad' }) },
  { method: 'POST', path: `${V3}/users/{userId}/report`, auth: 'user', body: () => ({ reason: 'bad' }) },
  { method: 'GET', path: `${V1}/rooms/{roomId}/relations/{eventId}`, auth: 'user', query: () => ({ limit: '5', dir: 'f', recurse: 'true' }) },
  { method: 'GET', path: `${V1}/rooms/{roomId}/relations/{eventId}/m.annotation/m.reaction`, auth: 'user' },
  { method: 'GET', path: `${V1}/rooms/{roomId}/threads`, auth: 'user', query: () => ({ include: 'participated', limit: '5' }) },
  { method: 'GET', path: `${V1}/rooms/{roomId}/hierarchy`, auth: 'user', query: () => ({ limit: '5', max_depth: '3', suggested_only: 'false' }) },
  { method: 'GET', path: `${V1}/rooms/{roomId}/timestamp_to_event`, auth: 'user', query: () => ({ ts: '1700000000000', dir: 'f' }) },
  { method: 'GET', path: `${V3}/sync`, auth: 'user', query: () => ({ timeout: '0', filter: JSON.stringify(filter), full_state: 'false', set_presence: 'online' }) },
  { method: 'GET', path: `${V3}/sync`, auth: 'user', query: (c) => ({ timeout: '0', filter: c.filterId }) },
  { method: 'POST', path: `${V3}/user/{userId}/filter`, auth: 'user', body: () => filter },
  { method: 'GET', path: `${V3}/user/{userId}/filter/{filterId}`, auth: 'user' },
  { method: 'GET', path: `${V3}/profile/{userId}`, auth: 'user' },
  { method: 'GET', path: `${V3}/profile/{userId}/displayname`, auth: 'user' },
  { method: 'PUT', path: `${V3}/profile/{userId}/displayname`, auth: 'user', body: () => ({ displayname: 'Fuzzy' }) },
  { method: 'PUT', path: `${V3}/profile/{userId}/avatar_url`, auth: 'user', body: (c) => ({ avatar_url: `mxc://${c.serverName}/${c.mediaId}` }) },
  { method: 'GET', path: `${V3}/presence/{userId}/status`, auth: 'user' },
  { method: 'PUT', path: `${V3}/presence/{userId}/status`, auth: 'user', body: () => ({ presence: 'online', status_msg: 'here' }) },
  { method: 'PUT', path: `${V3}/user/{userId}/account_data/{type}`, auth: 'user', body: () => ({ ignored_users: { '@x:y': {} } }) },
  { method: 'PUT', path: `${V3}/user/{userId}/account_data/m.ignored_user_list`, auth: 'user', body: (c) => ({ ignored_users: { [c.other.userId]: {} } }) },
  { method: 'GET', path: `${V3}/user/{userId}/account_data/{type}`, auth: 'user' },
  { method: 'PUT', path: `${V3}/user/{userId}/rooms/{roomId}/account_data/{type}`, auth: 'user', body: () => ({ a: 1 }) },
  { method: 'GET', path: `${V3}/user/{userId}/rooms/{roomId}/tags`, auth: 'user' },
  { method: 'PUT', path: `${V3}/user/{userId}/rooms/{roomId}/tags/{tag}`, auth: 'user', body: () => ({ order: 0.5 }) },
  { method: 'DELETE', path: `${V3}/user/{userId}/rooms/{roomId}/tags/{tag}`, auth: 'user' },
  { method: 'GET', path: `${V3}/joined_rooms`, auth: 'user' },
  { method: 'GET', path: `${V3}/publicRooms`, auth: 'user', query: () => ({ limit: '5', since: 'x', server: 'localhost' }) },
  { method: 'POST', path: `${V3}/publicRooms`, auth: 'user', body: () => ({ limit: 5, filter: { generic_search_term: 'a', room_types: [null, 'm.space'] }, include_all_networks: true }) },
  { method: 'PUT', path: `${V3}/directory/room/{alias}`, auth: 'user', body: (c) => ({ room_id: c.roomId }) },
  { method: 'GET', path: `${V3}/directory/room/{alias}`, auth: 'user' },
  { method: 'DELETE', path: `${V3}/directory/room/{alias}`, auth: 'user' },
  { method: 'GET', path: `${V3}/directory/list/room/{roomId}`, auth: 'user' },
  { method: 'PUT', path: `${V3}/directory/list/room/{roomId}`, auth: 'user', body: () => ({ visibility: 'public' }) },
  { method: 'POST', path: `${V3}/search`, auth: 'user', body: (c) => ({ search_categories: { room_events: { search_term: 'hello', keys: ['content.body'], filter: { rooms: [c.roomId], limit: 5 }, order_by: 'recent', event_context: { before_limit: 1, after_limit: 1, include_profile: true } } } }) },
  { method: 'POST', path: `${V3}/user_directory/search`, auth: 'user', body: () => ({ search_term: 'fuzz', limit: 5 }) },
  { method: 'GET', path: `${V3}/notifications`, auth: 'user', query: () => ({ limit: '5', only: 'highlight', from: '1' }) },
  { method: 'GET', path: `${V3}/pushrules/`, auth: 'user' },
  { method: 'GET', path: `${V3}/pushrules/global/`, auth: 'user' },
  { method: 'PUT', path: `${V3}/pushrules/global/{kind}/{ruleId}`, auth: 'user', query: () => ({ before: '.m.rule.master' }), body: () => ({ actions: ['notify', { set_tweak: 'sound', value: 'default' }], conditions: [{ kind: 'event_match', key: 'content.body', pattern: 'cake*' }], pattern: 'cake' }) },
  { method: 'GET', path: `${V3}/pushrules/global/{kind}/{ruleId}`, auth: 'user' },
  { method: 'PUT', path: `${V3}/pushrules/global/{kind}/{ruleId}/enabled`, auth: 'user', body: () => ({ enabled: false }) },
  { method: 'PUT', path: `${V3}/pushrules/global/{kind}/{ruleId}/actions`, auth: 'user', body: () => ({ actions: ['notify'] }) },
  { method: 'DELETE', path: `${V3}/pushrules/global/{kind}/{ruleId}`, auth: 'user' },
  { method: 'GET', path: `${V3}/pushers`, auth: 'user' },
  { method: 'POST', path: `${V3}/pushers/set`, auth: 'user', body: () => ({ pushkey: 'pk', kind: 'http', app_id: 'a.b', app_display_name: 'A', device_display_name: 'D', lang: 'en', data: { url: 'http://127.0.0.1:9/_matrix/push/v1/notify', format: 'event_id_only' }, append: false }) },
  { method: 'PUT', path: `${V3}/sendToDevice/{eventType}/{txnId}`, auth: 'user', body: (c) => ({ messages: { [c.other.userId]: { '*': { a: 1 } } } }) },
  { method: 'POST', path: `${V3}/keys/upload`, auth: 'user', body: (c) => ({ device_keys: { user_id: c.user.userId, device_id: c.user.deviceId, algorithms: ['m.olm.v1.curve25519-aes-sha2'], keys: { [`curve25519:${c.user.deviceId}`]: 'abc', [`ed25519:${c.user.deviceId}`]: 'def' }, signatures: { [c.user.userId]: { [`ed25519:${c.user.deviceId}`]: 'sig' } } }, one_time_keys: { 'signed_curve25519:AAAAAQ': { key: 'k', signatures: {} } }, fallback_keys: { 'signed_curve25519:AAAAAg': { key: 'k', fallback: true, signatures: {} } } }) },
  { method: 'POST', path: `${V3}/keys/query`, auth: 'user', body: (c) => ({ device_keys: { [c.user.userId]: [], [c.other.userId]: [c.other.deviceId] }, timeout: 1000 }) },
  { method: 'POST', path: `${V3}/keys/claim`, auth: 'user', body: (c) => ({ one_time_keys: { [c.other.userId]: { [c.other.deviceId]: 'signed_curve25519' } } }) },
  { method: 'GET', path: `${V3}/keys/changes`, auth: 'user', query: () => ({ from: '0', to: '99' }) },
  { method: 'POST', path: `${V3}/keys/device_signing/upload`, auth: 'user', body: (c) => ({ master_key: { user_id: c.user.userId, usage: ['master'], keys: { 'ed25519:abc': 'abc' } }, auth: { type: 'm.login.password', identifier: { type: 'm.id.user', user: c.user.userId }, password: c.user.password } }) },
  { method: 'POST', path: `${V3}/keys/signatures/upload`, auth: 'user', body: (c) => ({ [c.user.userId]: { [c.user.deviceId]: { user_id: c.user.userId, device_id: c.user.deviceId, keys: {}, signatures: {} } } }) },
  { method: 'POST', path: `${V3}/room_keys/version`, auth: 'user', body: () => ({ algorithm: 'm.megolm_backup.v1.curve25519-aes-sha2', auth_data: { public_key: 'abc', signatures: {} } }) },
  { method: 'GET', path: `${V3}/room_keys/version`, auth: 'user' },
  { method: 'PUT', path: `${V3}/room_keys/keys/{roomId}/{sessionId}`, auth: 'user', query: () => ({ version: '1' }), body: () => ({ first_message_index: 0, forwarded_count: 0, is_verified: false, session_data: { ephemeral: 'e', ciphertext: 'c', mac: 'm' } }) },
  { method: 'GET', path: `${V3}/room_keys/keys`, auth: 'user', query: () => ({ version: '1' }) },
  { method: 'DELETE', path: `${V3}/room_keys/keys/{roomId}`, auth: 'user', query: () => ({ version: '1' }) },
  { method: 'GET', path: `${V3}/voip/turnServer`, auth: 'user' },
  { method: 'GET', path: `${V1}/media/config`, auth: 'user' },
  { method: 'POST', path: '/_matrix/media/v3/upload', auth: 'user', query: () => ({ filename: 'a.png' }), rawBody: true },
  { method: 'GET', path: `${V1}/media/download/{serverName}/{mediaId}`, auth: 'user' },
  { method: 'GET', path: `${V1}/media/download/{serverName}/{mediaId}/{fileName}`, auth: 'user' },
  { method: 'GET', path: `${V1}/media/thumbnail/{serverName}/{mediaId}`, auth: 'user', query: () => ({ width: '32', height: '32', method: 'scale' }) },
  { method: 'GET', path: '/_matrix/media/v3/download/{serverName}/{mediaId}', auth: 'none' },
  { method: 'GET', path: `${V1}/org.hearth/rooms/{roomId}/telemetry/{sensor}`, auth: 'user', query: () => ({ from: '2025-01-01T00:00:00Z', to: String(Date.now()), resolution: 'auto' }) },
  { method: 'GET', path: '/_synapse/admin/v1/register', auth: 'none' },
  { method: 'POST', path: '/_synapse/admin/v1/register', auth: 'none', body: () => ({ nonce: 'n', username: 'u', password: 'p', admin: true, mac: '00' }) },
  { method: 'GET', path: '/_synapse/admin/v1/event_reports', auth: 'user', query: () => ({ limit: '5', from: '0', dir: 'b' }) },
];

/** Valid values of the path parameters, from the context. */
function paramValue(c: CsContext, name: string, rng: Prng): string {
  switch (name) {
    case 'roomId':
    case 'roomIdOrAlias':
      return name === 'roomIdOrAlias' && rng.chance(0.3) ? c.alias : rng.chance(0.9) ? c.roomId : c.foreignRoomId;
    case 'foreignRoomId':
      return rng.chance(0.5) ? c.foreignRoomId : c.roomId;
    case 'eventId':
      return c.eventId;
    case 'userId':
      return rng.chance(0.9) ? c.user.userId : c.other.userId;
    case 'deviceId':
      return c.user.deviceId;
    case 'disposableDeviceId':
      return c.disposable.deviceId;
    case 'eventType':
      return rng.pick(['m.room.message', 'm.room.name', 'm.room.topic', 'org.example.custom', 'm.room.power_levels', 'm.room.member', 'm.room.create']);
    case 'stateKey':
      return rng.pick(['', c.user.userId, 'k']);
    case 'txnId':
      return `t${rng.nextU32()}`;
    case 'type':
      return rng.pick(['org.example.data', 'm.ignored_user_list', 'm.direct', 'm.fully_read', 'm.push_rules']);
    case 'tag':
      return rng.pick(['m.favourite', 'u.work', 'm.lowpriority']);
    case 'receiptType':
      return rng.pick(['m.read', 'm.read.private', 'm.fully_read']);
    case 'filterId':
      return c.filterId;
    case 'alias':
      return rng.chance(0.5) ? c.alias : `#fuzz${rng.int(50)}:${c.serverName}`;
    case 'serverName':
      return c.serverName;
    case 'mediaId':
      return c.mediaId;
    case 'fileName':
      return 'f.png';
    case 'kind':
      return rng.pick(['override', 'underride', 'sender', 'room', 'content']);
    case 'ruleId':
      return rng.pick(['fuzzrule', '.m.rule.master', '.m.rule.contains_display_name']);
    case 'sessionId':
      return 'session1';
    case 'sensor':
      return rng.pick(['temperature', 'x', '']);
    default:
      throw new Error(`no value for path parameter ${name}`);
  }
}

/** A path segment: usually percent-encoded, sometimes raw or broken (traversal, bad escapes). */
function encodeSegment(rng: Prng, value: string): string {
  return rng.weighted<() => string>([
    [8, () => percentEncode(value)],
    [1, () => percentEncode(value, /[A-Za-z0-9\-._~!$&'()*+,;=:@/]/)],
    [1, () => rng.pick(['..', '.', '%2e%2e', '..%2f..%2f', '%2F', '%00', '%zz', '%', '%ff%fe', '%C0%AE%C0%AE', ''])],
  ])();
}

function encodeQuery(rng: Prng, query: Record<string, string>): string {
  const parts = Object.entries(query).map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`);
  if (rng.chance(0.1)) parts.push(rng.pick(['a', '=', '&&', 'x=%zz', 'x=%', 'filter=%7B', 'limit=1&limit=2', 'limit[]=1', 'a=%ff']));
  return parts.length ? `?${parts.join('&')}` : '';
}

const LONG_POLL_PARAMS = new Set(['since']);

function mutateQuery(rng: Prng, seed: Record<string, string>): Record<string, string> {
  const q = { ...seed };
  for (let i = rng.range(1, 2); i > 0; i--) {
    const keys = Object.keys(q);
    const op = rng.int(keys.length ? 4 : 1);
    if (op === 0) {
      q[rng.pick(['limit', 'from', 'to', 'dir', 'filter', 'since', 'timeout', 'format', 'version', 'ts', 'width', 'method', 'only', 'include', 'membership', 'at', 'recurse', 'full_state', 'set_presence', 'server_name', 'via', 'allow_remote'])] = hostileString(rng).slice(0, 2000);
    } else if (op === 1) {
      delete q[rng.pick(keys)];
    } else {
      const key = rng.pick(keys);
      const old = q[key]!;
      const parsed = old.startsWith('{') ? parseOrUndefined(old) : undefined;
      q[key] = parsed !== undefined && rng.chance(0.6) ? JSON.stringify(mutateJson(rng, parsed)) : hostileString(rng).slice(0, 2000);
    }
  }
  return q;
}

function parseOrUndefined(text: string): Json | undefined {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
}

export interface CsInput {
  route: string;
  auth: string;
  request: WireRequest;
  /** Set when the input asked for a long-poll: the longest wait it may legitimately take. */
  longPollMs: number;
}

export interface ClientServerTargetOptions {
  host: string;
  port: number;
  serverName: string;
  /** No answer within this is a hang (long-polls get their own requested wait on top). */
  hangBoundMs: number;
}

const cbor = new Encoder({ useRecords: false });

export class ClientServerTarget implements FuzzTarget<CsInput> {
  readonly name = 'client-server';
  private readonly wire: WireClient;
  private ctx!: CsContext;
  private disposableSerial = 0;

  constructor(private readonly opts: ClientServerTargetOptions) {
    this.wire = new WireClient(opts.host, opts.port);
  }

  async setup(): Promise<void> {
    const user = await this.register(`fuzz-user-${Date.now()}`);
    const other = await this.register(`fuzz-other-${Date.now()}`);
    const disposable = await this.register(`fuzz-disposable-${Date.now()}`);
    const health = await this.register(`fuzz-health-${Date.now()}`);
    const healthRoom = await this.call('POST', '/_matrix/client/v3/createRoom', health.token, { preset: 'private_chat' });
    const aliasLocal = `fuzzroom${Date.now()}`;
    const room = await this.call('POST', '/_matrix/client/v3/createRoom', user.token, { preset: 'public_chat', room_alias_name: aliasLocal, invite: [other.userId] });
    const foreign = await this.call('POST', '/_matrix/client/v3/createRoom', other.token, { preset: 'private_chat' });
    const sent = await this.call('PUT', `/_matrix/client/v3/rooms/${percentEncode(room.room_id)}/send/m.room.message/seed1`, user.token, { msgtype: 'm.text', body: 'seed message' });
    const stored = await this.call('POST', `/_matrix/client/v3/user/${percentEncode(user.userId)}/filter`, user.token, filter);
    const upload = await this.wire.send(
      { method: 'POST', path: '/_matrix/media/v3/upload?filename=seed.txt', headers: { authorization: `Bearer ${user.token}`, 'content-type': 'text/plain' }, body: Buffer.from('seed media') },
      30_000,
    );
    if (upload.kind !== 'answer' || upload.status !== 200) throw new Error(`setup: media upload: ${JSON.stringify(upload)}`);
    const mxc = String(JSON.parse(upload.text).content_uri);
    this.ctx = {
      serverName: this.opts.serverName,
      user,
      other,
      disposable,
      roomId: room.room_id,
      alias: `#${aliasLocal}:${this.opts.serverName}`,
      foreignRoomId: foreign.room_id,
      eventId: sent.event_id,
      filterId: stored.filter_id,
      mediaId: mxc.split('/').pop()!,
      health,
      healthRoomId: healthRoom.room_id,
    };
  }

  generate(rng: Prng): CsInput {
    const c = this.ctx;
    const spec = rng.pick(ROUTES);
    const path = spec.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeSegment(rng, rng.chance(0.85) ? paramValue(c, name, rng) : hostileString(rng).slice(0, 1200)));
    let query = spec.query?.(c) ?? {};
    if (rng.chance(0.4)) query = mutateQuery(rng, query);
    // A long-poll with `since` legitimately waits up to `timeout` (capped by the server at 5 min):
    // the generator keeps such waits short rather than letting the run sleep.
    let longPollMs = 0;
    if (spec.path.endsWith('/sync') && [...LONG_POLL_PARAMS].some((p) => p in query)) {
      query.timeout = rng.pick(['0', '1', '50', '500']);
      longPollMs = 500;
    }
    const headers: Record<string, string> = {};
    const token = rng.weighted<() => string | undefined>([
      [spec.auth === 'none' ? 1 : 17, () => (spec.auth === 'disposable' ? c.disposable.token : c.user.token)],
      [1, () => undefined],
      [1, () => rng.pick(['bad-token', '', 'syt_' + 'a'.repeat(2000), c.user.token + '\u0000', `${c.user.token} x`])],
      [1, () => c.other.token],
    ])();
    if (token !== undefined) {
      // A header value may not carry control characters or non-Latin-1; node:http would refuse it.
      headers.authorization = /^[\x20-\x7e]*$/.test(token) ? `Bearer ${token}` : `Bearer ${percentEncode(token)}`;
    }
    let body: Buffer | undefined;
    if (spec.rawBody) {
      body = rng.chance(0.5) ? rng.bytes(rng.range(0, 4096)) : Buffer.from(hostileString(rng), 'utf8');
      headers['content-type'] = rng.pick(['image/png', 'text/plain', '', 'application/json', 'x/../../etc', 'text/plain; charset=\u00ff'.replace('\u00ff', 'x')]);
    } else if (spec.body) {
      const seed = spec.body(c);
      const encoding = rng.weighted<string>([
        [12, 'json'],
        [1, 'cbor'],
        [1, 'text'],
        [1, 'none'],
      ]);
      if (encoding === 'cbor') {
        body = Buffer.from(cbor.encode(rng.chance(0.5) ? seed : mutateJson(rng, seed)));
        headers['content-type'] = 'application/cbor';
      } else if (encoding === 'none') {
        body = undefined;
      } else {
        body = mutateBody(rng, seed);
        headers['content-type'] = encoding === 'json' ? 'application/json' : rng.pick(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']);
      }
    } else if (rng.chance(0.1)) {
      body = Buffer.from(JSON.stringify(randomJson(rng, 2)), 'utf8');
      headers['content-type'] = 'application/json';
    }
    const method = rng.chance(0.03) ? rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']) : spec.method;
    return { route: `${spec.method} ${spec.path}`, auth: spec.auth, request: { method, path: path + encodeQuery(rng, query), headers, body }, longPollMs };
  }

  async execute(input: CsInput): Promise<Verdict> {
    const outcome = await this.wire.send(input.request, this.opts.hangBoundMs + input.longPollMs);
    if (outcome.kind === 'hang') return { ok: false, kind: 'hang', detail: `no answer within ${outcome.elapsedMs} ms` };
    if (outcome.kind === 'connection-error') {
      if (outcome.message.startsWith('not sent')) return { ok: true, label: 'unsendable' };
      return { ok: false, kind: 'connection-error', detail: outcome.message };
    }
    // Other servers' media fetched for a client: a server that cannot be reached is 502, as Synapse
    // answers ("Failed to fetch remote media"). A mutated path names such servers (`L3f`, `.`); the
    // answer must still be that Matrix error, never a 502 about our own server or another 5xx.
    if (outcome.status === 502 && REMOTE_MEDIA_ROUTE.test(input.route) && /^\{"errcode":"M_UNKNOWN","error":"Could not fetch the media from /.test(outcome.text)) {
      // Only for a server name that is one (anything else must be refused at the edge with 400) and not ours.
      const named = /\/(?:download|thumbnail)\/([^/?]*)/.exec(input.request.path)?.[1];
      let server: string | undefined;
      try {
        server = named === undefined ? undefined : decodeURIComponent(named);
      } catch {
        server = undefined;
      }
      if (server !== undefined && server !== this.ctx.serverName && isValidServerName(server)) return { ok: true, label: '502 remote media unreachable' };
    }
    // Likewise an alias of another server that cannot be reached: Synapse answers 502 "Failed to
    // fetch alias" (handlers/directory.py); ours names the server, never our own.
    if (outcome.status === 502 && /^\{"errcode":"M_UNKNOWN","error":"Could not ask (\S+) about /.test(outcome.text)) {
      const asked = /^\{"errcode":"M_UNKNOWN","error":"Could not ask (\S+) about /.exec(outcome.text)![1]!;
      if (asked !== this.ctx.serverName && isValidServerName(asked)) return { ok: true, label: '502 remote alias unreachable' };
    }
    if (outcome.status >= 500) return { ok: false, kind: 'server-error', detail: `${outcome.status} ${outcome.text}` };
    if (outcome.status === 200 && input.auth === 'disposable' && input.request.headers.authorization?.includes(this.ctx.disposable.token)) {
      // The disposable account may have lost its token or been deactivated: start a fresh one.
      this.ctx.disposable = await this.register(`fuzz-disposable-${Date.now()}-${++this.disposableSerial}`);
    }
    return { ok: true, label: String(outcome.status) };
  }

  reproducer(input: CsInput): Record<string, unknown> {
    const { method, path, headers, body } = input.request;
    const text = body?.toString('utf8');
    const exact = body && Buffer.from(text!, 'utf8').equals(body);
    return {
      route: input.route,
      method,
      path,
      headers: { ...headers, authorization: headers.authorization ? `Bearer <${input.auth} token>` : undefined },
      ...(body ? (exact && body.length <= 2000 ? { body: text } : { bodyBase64: body.length <= 6000 ? body.toString('base64') : `${body.length} bytes, starting ${body.subarray(0, 200).toString('base64')}` }) : {}),
    };
  }

  /**
   * An ordinary client, on an account and room the inputs never name (they may have left or locked
   * the fuzz room): whoami, a message sent and read back through /messages.
   */
  async healthCheck(): Promise<void> {
    const { health, healthRoomId } = this.ctx;
    const who = await this.call('GET', '/_matrix/client/v3/account/whoami', health.token);
    if (who.user_id !== health.userId) throw new Error(`whoami answered ${JSON.stringify(who)}`);
    const body = `health ${Date.now()}`;
    const sent = await this.call('PUT', `/_matrix/client/v3/rooms/${percentEncode(healthRoomId)}/send/m.room.message/health${Date.now()}`, health.token, { msgtype: 'm.text', body });
    const page = await this.call('GET', `/_matrix/client/v3/rooms/${percentEncode(healthRoomId)}/messages?dir=b&limit=20`, health.token);
    const found = (page.chunk as Array<{ event_id: string; content: { body?: string } }>).find((e) => e.event_id === sent.event_id);
    if (found?.content.body !== body) throw new Error(`the health message ${sent.event_id} is not in /messages`);
  }

  async close(): Promise<void> {
    this.wire.close();
  }

  /** Registration through the m.login.dummy flow; retried while rate-limited. */
  private async register(username: string): Promise<Session> {
    const password = `pw-${username}`;
    const params = { username, password, initial_device_display_name: 'fuzz' };
    const first = await this.call('POST', '/_matrix/client/v3/register', undefined, params, [401]);
    const done = await this.call('POST', '/_matrix/client/v3/register', undefined, { ...params, auth: { type: 'm.login.dummy', session: first.session } });
    return { userId: done.user_id, token: done.access_token, deviceId: done.device_id, password };
  }

  /** A well-formed call of the harness itself (not a fuzz input): retried on 429, anything else but `expect` throws. */
  private async call(method: string, path: string, token: string | undefined, json?: unknown, expect: number[] = [200]): Promise<any> {
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (token) headers.authorization = `Bearer ${token}`;
      const res = await this.wire.send({ method, path, headers, body: json === undefined ? undefined : Buffer.from(JSON.stringify(json)) }, 30_000, Infinity);
      if (res.kind !== 'answer') throw new Error(`${method} ${path}: ${JSON.stringify(res)}`);
      if (res.status === 429 && attempt < 20) {
        const retry = Number(JSON.parse(res.text).retry_after_ms ?? 1000);
        await new Promise((r) => setTimeout(r, Math.min(Math.max(retry, 50), 5000)));
        continue;
      }
      if (!expect.includes(res.status)) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
      return JSON.parse(res.text);
    }
  }
}
