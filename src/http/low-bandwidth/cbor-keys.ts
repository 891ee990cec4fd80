/**
 * MSC3079 "Low Bandwidth Client-Server API", Appendix A: version 1 of the CBOR integer keys. A
 * client may write any of these keys as its integer, and a client that asked for them gets them
 * back as integers. Later versions only ever add keys, so this list is only appended to.
 */
const VERSION_1 = [
  'event_id', 'type', 'content', 'state_key', 'room_id', 'sender', 'user_id', 'origin_server_ts', 'unsigned', 'prev_content',
  'state', 'timeline', 'events', 'limited', 'prev_batch', 'transaction_id', 'age', 'redacted_because', 'next_batch', 'presence',
  'avatar_url', 'account_data', 'rooms', 'join', 'membership', 'displayname', 'body', 'msgtype', 'format', 'formatted_body',
  'ephemeral', 'invite_state', 'leave', 'third_party_invite', 'is_direct', 'hashes', 'signatures', 'depth', 'prev_events', 'prev_state',
  'auth_events', 'origin', 'creator', 'join_rule', 'history_visibility', 'ban', 'events_default', 'kick', 'redact', 'state_default',
  'users', 'users_default', 'reason', 'visibility', 'room_alias_name', 'name', 'topic', 'invite', 'invite_3pid', 'room_version',
  'creation_content', 'initial_state', 'preset', 'servers', 'identifier', 'user', 'medium', 'address', 'password', 'token',
  'device_id', 'initial_device_display_name', 'access_token', 'home_server', 'well_known', 'base_url', 'device_lists', 'to_device', 'peek', 'last_seen_ip',
  'display_name', 'typing', 'last_seen_ts', 'algorithm', 'sender_key', 'session_id', 'ciphertext', 'one_time_keys', 'timeout', 'recent_rooms',
  'chunk', 'm.fully_read', 'device_keys', 'failures', 'device_display_name', 'prev_sender', 'replaces_state', 'changed', 'unstable_features', 'versions',
  'devices', 'errcode', 'error', 'room_alias',
] as const;

/** The newest version of the key table this server knows (advertised in /versions). */
export const CBOR_ENUM_VERSION = 1;

const NAME_BY_INTEGER = new Map<number, string>(VERSION_1.map((name, i) => [i + 1, name]));
const INTEGER_BY_NAME = new Map<string, number>(VERSION_1.map((name, i) => [name, i + 1]));

/** The key an integer stands for, or undefined for an integer no version defines. */
export function keyNameOf(integer: number): string | undefined {
  return NAME_BY_INTEGER.get(integer);
}

/** The integer a key may be written as, or undefined for a key without one. */
export function keyIntegerOf(name: string): number | undefined {
  return INTEGER_BY_NAME.get(name);
}
