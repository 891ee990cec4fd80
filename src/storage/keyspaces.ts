/**
 * The catalog of key spaces: every LevelDB sublevel Hearth uses, with its key and value layout.
 * Nobody else builds keys by hand; keys come from `codec.ts`. Kept in step with `docs/storage.md`.
 *
 * Notation: `str` is a UTF-8 string, escaped (0x00 -> 0x01 0x01, 0x01 -> 0x01 0x02), followed by 0x00, `raw` a UTF-8 string filling the whole key
 * (no terminator), `u8`/`u32`/`u64` fixed-width big-endian, `pos` a biased signed 64-bit position
 * (see codec.position), `json`/`cbor` the value encoding.
 */
export const STORAGE_VERSION = 4;

export const KEYSPACES = {
  /**
   * `raw name` -> json. Only `schema_version`: id counters and the stream position are recovered
   * from the last key of their key spaces at start, never stored separately.
   */
  meta: 'meta',

  // ---- rooms and the event DAG (src/storage/events.ts, state.ts) ----
  /** `raw room_id` -> json RoomRecord { roomId, short, version, creator, createdAt }. */
  rooms: 'rooms',
  /** `u32 room short` -> raw room_id. */
  roomByShort: 'room_short',
  /** `u64 event short` -> the exact PDU JSON as created or received (hashes and signatures cover it). */
  eventJson: 'event_json',
  /** `u64 event short` -> json EventMeta { eventId, roomShort, stream, depth, stateBefore, stateAfter, replaces?, txn?, redactedBy?, related? }. */
  eventMeta: 'event_meta',
  /** `raw event_id` -> u64 event short. */
  eventShortById: 'eventid_short',
  /** `str type ‖ str state_key` -> u32 state-key short. */
  stateKeyShort: 'statekey_short',
  /** `u32 state-key short` -> `str type ‖ str state_key`. */
  stateKeyByShort: 'short_statekey',
  /** `u32 room ‖ pos stream` -> u64 event short. The room timeline; one iterator both ways. */
  timeline: 'timeline',
  /** `u64 stream` -> u32 room ‖ u64 event short. Everything after a sync token, in order (positive positions only). */
  stream: 'stream',
  /** `u64 snapshot` -> json { parent, chainLength, delta: [[stateKeyShort, eventShort \| 0]] } (0 = removed). */
  stateSnapshot: 'state_snapshot',
  /** `u32 room` -> json { snapshot, extremities: [event_id], depth, lastStream }. */
  roomHead: 'room_head',
  /** `str user_id ‖ str room_id` -> json { roomId, membership, eventId, stream, forgotten? }. A user's rooms. */
  userRooms: 'user_rooms',
  /** `str user_id ‖ str device_id ‖ str endpoint… ‖ str txn_id` -> raw event_id; endpoint `send ‖ room_id ‖ type` or `redact ‖ room_id ‖ event_id` (since storage version 3). Idempotency of PUT /send and /redact. */
  txnIds: 'txn_ids',
  /** `u64 parent short ‖ pos child stream ‖ u64 child short` -> json { rel, type, sender, key? }. Child events of a parent (since storage version 2). */
  relations: 'relations',
  /** `u32 room ‖ pos latest reply stream ‖ u64 root short` -> empty. A room's threads, by latest activity. */
  threads: 'threads',
  /** `u64 root short` -> pos latest reply stream. Where a thread sits in `threads`. */
  threadRoots: 'thread_roots',
  /** `str target event_id ‖ u64 redaction short` -> empty. Redactions received before the event they redact, applied when it arrives (src/storage/waiting-redactions.ts). */
  redactionsWaiting: 'redactions_waiting',

  // ---- accounts and client data (src/storage/accounts.ts, client-data.ts, push-rules.ts, receipts.ts, to-device.ts; src/stream/side-stream.ts) ----
  /** `str user_id` -> json UserRecord { userId, passwordHash?, admin, kind, createdAt, displayname?, avatarUrl?, deactivated? }. */
  users: 'users',
  /** 32-byte `sha256(access token)` -> json { userId, deviceId, createdAt }. Tokens are hashed at rest. */
  accessTokens: 'access_tokens',
  /** `str user_id ‖ str device_id` -> json DeviceRecord { userId, deviceId, displayName?, tokenHash?, lastSeenTs?, lastSeenIp?, lastSeenUserAgent? }. */
  devices: 'devices',
  /** `str user_id ‖ str room_id ('' = global) ‖ str type` -> json { content, stream }. */
  accountData: 'account_data',
  /** `str user_id ‖ str filter_id` -> json filter. */
  filters: 'filters',
  /** `str user_id` -> json PushRuleOverrides { custom, defaults }: only the changes from the server-default rules. */
  pushRules: 'push_rules',
  /** `raw room_alias` -> json { roomId, creator }. */
  aliases: 'aliases',
  /** `raw room_id` -> json { visibility: 'public' }. The public room directory; private rooms have no key. */
  directory: 'directory',
  /** `str room_id ‖ str receipt_type ‖ str user_id ‖ str thread_id` -> json { eventId, ts, stream }. */
  receipts: 'receipts',
  /** `str user_id ‖ str device_id ‖ u64 stream` -> json { type, sender, content }. */
  toDevice: 'to_device',
  /** `str user_id ‖ str app_id ‖ str pushkey` -> json PusherRecord { kind, appDisplayName, deviceDisplayName, lang, data, pushkeyTs, deviceId, pushedUpTo, ... }. */
  pushers: 'pushers',
  /** `u32 room ‖ str user_id ‖ pos stream` -> `u8 flags (1 = highlight) ‖ raw thread`. One unread event that notified a local user (src/storage/unread-counts.ts; since storage version 4). */
  pushActions: 'push_actions',
  /** `u32 room ‖ str user_id ‖ str thread` -> `u32 notifications ‖ u32 highlights`: the user's `push_actions` rows of that thread, counted, in the same batches. */
  unreadCounts: 'unread_counts',
  /** `u64 stream` -> json SideStreamEntry { kind: account_data | receipt | profile, ... }. Non-event stream entries (to-device needs none). */
  sideStream: 'side_stream',
  /** `raw consumer key` -> u64 stream position. Saved stream cursor positions (src/stream/cursor-positions.ts) of consumers without a record of their own. */
  streamCursors: 'stream_cursors',

  // ---- moderation (src/moderation/) ----
  /** `u64 report id` -> json ReportRecord { id, kind: event|room|user, reporter, reason, receivedTs, roomId?, eventId?, userId?, score? }. */
  reports: 'reports',

  // ---- content repository (src/media/store.ts; the files are `<data dir>/media/<media id>`) ----
  /** `raw media_id` -> json MediaRecord { contentType, fileName?, size, uploader, createdAt }. */
  media: 'media',
  /** `str server ‖ str media_id` -> raw local media_id. Other servers' media, fetched once over federation (src/media/remote-media.ts). */
  remoteMedia: 'remote_media',

  // ---- end-to-end encryption keys (src/e2ee/, src/storage/e2ee.ts) ----
  /** `str user_id ‖ str device_id` -> json signed device keys (minus `unsigned`), with signatures added by /keys/signatures/upload. */
  e2eDeviceKeys: 'e2e_device_keys',
  /** `str user_id ‖ str device_id ‖ str algorithm:key_id` -> json { key, upload }; `upload` numbers the /keys/upload call (claims take the oldest). */
  e2eOneTimeKeys: 'e2e_one_time_keys',
  /** `str user_id ‖ str device_id ‖ str algorithm` -> json { keyId, key, used }. */
  e2eFallbackKeys: 'e2e_fallback_keys',
  /** `str user_id ‖ str usage (master|self_signing|user_signing)` -> json cross-signing key. */
  e2eCrossSigning: 'e2e_cross_signing',
  /** `str user_id ‖ u32 version` -> json { algorithm, authData, count, etag } or { deleted: true } (numbers are never reused). Server-side key backup versions. */
  e2eRoomKeyVersions: 'e2e_room_key_versions',
  /** `str user_id ‖ u32 version ‖ str room_id ‖ str session_id` -> json KeyBackupData { first_message_index, forwarded_count, is_verified, session_data }. */
  e2eRoomKeys: 'e2e_room_keys',
  /** `u64 stream` -> json { userId }. Users whose device list changed, for `device_lists.changed`. */
  e2eDeviceListStream: 'e2e_device_list_stream',
  /** `str user_id` -> json { stream }: the position of the user's latest device list change (the `stream_id` federation announces). */
  e2eDeviceListLatest: 'e2e_device_list_latest',

  // ---- federation (src/federation/) ----
  /** `str origin ‖ str txn_id` -> json { ts, results }. Transactions received with `PUT /send`, answered once (server-server "Transactions"). */
  federationTxns: 'federation_txns',
  /** `str server_name ‖ str key_id` -> json ServerKeyRecord { key, validUntilTs?, expiredTs?, fetchedTs }. Other servers' signing keys (src/storage/server-keys.ts). */
  serverKeys: 'server_keys',
  /** `str server_name` -> json { fetchedTs, response }: the latest key set the server signed, as received, for notary answers. */
  serverKeyResponses: 'server_key_responses',
  /** `str user_id` -> json RemoteDeviceList { streamId, stale, updatedTs, devices, masterKey?, selfSigningKey? }. Other servers' users' device lists (src/federation/e2ee/remote-device-store.ts), bounded. */
  federationRemoteDeviceLists: 'federation_remote_device_lists',
  /** `str server_name` -> json DestinationRecord { failures, lastFailureTs?, lastSuccessTs?, retryAt?, lastError? }. The sender's retry state per destination (src/storage/federation-outbox.ts); the position itself is `stream_cursors` `federation:<server>`. */
  federationDestinations: 'federation_destinations',
  /** `str server_name ‖ u32 room short` -> u64 stream position of the last event of ours sent to that server in that room, saved with the position. */
  federationRoomSent: 'federation_room_sent',
  /** `str server_name ‖ u64 seq` -> json { kind: 'pdu', eventId } \| { kind: 'edu', edu_type, content }. What the stream walk does not cover: events relayed as resident (send_join etc.) and durable EDUs (to-device, device lists), deleted once the server acknowledged them. */
  federationOutbox: 'federation_outbox',

  // ---- MQTT broker and bridge (src/mqtt/) ----
  /** `str device name` -> json MqttDeviceRecord { userId, passwordHash, createdAt, publicKey? }. The device name is the MQTT username; `publicKey` (base64 ed25519): the device signs its readings. */
  mqttDevices: 'mqtt_devices',
  /** `str device name` -> u64 the highest signature counter accepted from the device (signed readings, mqtt/signing/verifier.ts; write-behind). */
  mqttDeviceCounters: 'mqtt_device_counters',
  /** `raw topic` -> `u8 qos ‖ payload`. Retained messages, persisted across restarts. */
  mqttRetained: 'mqtt_retained',
  /** `str client_id` -> json session { subscriptions }. Persistent sessions. */
  mqttSessions: 'mqtt_sessions',
  /** `str client_id ‖ u64 seq` -> json { topic, payload (base64), qos, retain, brokerId, brokerCounter }. Capped offline queue per session. */
  mqttOffline: 'mqtt_offline',
  /** `str client_id` -> utf8 owner (`device:<name>`, `user:<user id>`, `anonymous`) of a persistent session's client id. */
  mqttClientOwners: 'mqtt_client_owners',
  /** `str device key` -> json BridgedDevice (convention, user, room, sensors, topics); `str area:<name>` -> json AreaRoom { roomId, userId }. */
  bridgeDevices: 'bridge_devices',

  // ---- telemetry (src/telemetry/) ----
  /** `str stream key` -> json StreamRecord { short, unit?, rawRetentionDays?, rollupRetentionDays? }. A stream is one sensor of one device. */
  telemetryStreams: 'telemetry_streams',
  /**
   * `u32 stream short ‖ u64 ms` -> cbor chunk of the stream's readings from `ms` on. Time-ordered.
   * Stream short 0 is the journal: `u32 0 ‖ u64 flush ms` -> cbor readings of all streams not yet in chunks.
   */
  telemetryRaw: 'telemetry_raw',
  /** `u32 stream short ‖ u8 resolution (1 = 5 min, 2 = 1 h) ‖ u64 bucket start ms` -> cbor { min, max, sum, count }. */
  telemetryRollup: 'telemetry_rollup',
} as const;

export type KeyspaceName = keyof typeof KEYSPACES;
