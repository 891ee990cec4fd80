/**
 * The commented `hearth.yaml` written into the data directory on first run (config.ts) and by
 * `hearth init` (cli/init.ts): every setting the loader reads, each with its default (or, for
 * settings without one, a commented example). test/config/template.test.ts keeps it complete.
 */
export const DEFAULT_CONFIG_TEMPLATE = `# Hearth gateway configuration.
# Environment variables override the basics: HEARTH_DATA_DIR, HEARTH_SERVER_NAME,
# HEARTH_CLIENT_PORT, HEARTH_FEDERATION_PORT, HEARTH_MQTT_PORT, HEARTH_REGISTRATION,
# HEARTH_RATE_LIMITS (on|off: off is for test rigs and benchmarks).

# The Matrix server name. User ids look like @alice:<server_name>. Choose it before the first
# "hearth user add": the first start records it in the data directory, and a different one later is
# refused at start. Default: localhost:<client port> (once recorded, the recorded name).
# server_name: home.example.org

# The room version of new rooms when the client asks for none (clients may ask for any of 1-12).
# Default: "12", as the spec recommends. Some clients mis-read the create event of v11 and later
# rooms, which no longer carries "creator": nheko 0.11, for one, takes such rooms for version 1.
# "10" suits those clients and still has knocking and restricted rooms.
# default_room_version: "12"

client:
  # Where the Client-Server API listens (also serves MQTT over WebSocket, see mqtt.websocket_path).
  bind_address: 127.0.0.1
  port: 8008
  # The address Matrix clients use to reach this gateway (printed in hints). Default:
  # http://<bind_address>:<port>.
  # public_base_url: https://matrix.home.example.org

federation:
  # The Server-Server API (docs/federation.md): other Matrix servers reach this gateway here.
  bind_address: 0.0.0.0
  port: 8448
  # TLS on this port. Without certificate paths, a self-signed certificate is generated into the
  # data directory on first run (fine for test setups; real servers want a CA-signed one).
  # tls: false serves plain HTTP, for a reverse proxy that terminates TLS in front of it.
  tls: true
  # tls_certificate_path: /etc/letsencrypt/live/home.example.org/fullchain.pem
  # tls_private_key_path: /etc/letsencrypt/live/home.example.org/privkey.pem
  # Check other servers' certificates. false only for test setups (HEARTH_FEDERATION_VERIFY_TLS).
  verify_tls: true
  # Notaries asked for other servers' signing keys. Empty: each server is asked itself.
  # trusted_key_servers:
  #   - server_name: matrix.org
  #     verify_keys:
  #       "ed25519:auto": Noi6WqcDj0QmPxCNQqgezwTlBKrfqehY1u2FyWP9uYw
  trusted_key_servers: []
  # Other servers are never contacted at private, loopback, link-local or reserved addresses (a
  # stranger names the servers we contact: the home network stays out of reach). Allow ranges here
  # for a peer on the LAN or loopback tests (HEARTH_FEDERATION_IP_RANGE_ALLOWLIST, comma-separated);
  # ip_range_blocklist adds ranges to the built-in ones.
  ip_range_allowlist: []
  ip_range_blocklist: []
  # Pull mode, for a gateway behind NAT that other servers cannot reach: every this many seconds ask
  # each server we share a room with for the events we lack (HEARTH_FEDERATION_PULL_INTERVAL_SECONDS).
  # 0: off (other servers push to us). docs/federation.md "Offline".
  pull_interval_seconds: 0
  # With pull mode on, the interval while a local client is syncing (someone is looking at the rooms;
  # HEARTH_FEDERATION_PULL_INTERVAL_ACTIVE_SECONDS). 0: always pull_interval_seconds.
  pull_interval_active_seconds: 5
  # A gateway without a real-time clock may boot at 1970 or at the last saved time: with a clock
  # before this date (ISO 8601; empty: this release's date), behind the last event this server signed,
  # or far in the future, federation waits until the clock is set (HEARTH_FEDERATION_CLOCK_NOT_BEFORE).
  # docs/federation.md "Clock".
  clock_not_before: ""

registration:
  # closed: accounts only via "hearth user add" or shared-secret registration;
  # token: /register needs one of the tokens below; open: anyone may register.
  mode: closed
  tokens: []
  # For Synapse-compatible shared-secret registration (/_synapse/admin/v1/register).
  shared_secret: "@SHARED_SECRET@"

mqtt:
  # embedded: run the broker in-process; external: connect to external_url (e.g. Mosquitto).
  mode: embedded
  bind_address: 0.0.0.0
  port: 1883
  websocket_path: /_hearth/mqtt
  # external_url: mqtt://127.0.0.1:1883
  # external_username: hearth
  # external_password: secret
  allow_anonymous: false
  max_payload_bytes: 65536
  # Persistent sessions' queues: packets and bytes per session, bytes over all sessions.
  offline_queue_limit: 1000
  offline_queue_bytes: 4194304
  offline_queue_total_bytes: 33554432
  # Retained messages, per MQTT login and in total; beyond these a message is delivered to
  # subscribers but not retained (logged). Payloads are kept on disk, not in memory.
  retained:
    max_messages: 10000
    max_bytes: 33554432
    max_messages_per_client: 1000
    max_bytes_per_client: 4194304
  # Signed readings (docs/mqtt.md): a device added without --public-key that sends a signed
  # message offering its key has that key kept; from then on it must sign everything it publishes.
  # false: only keys given with "hearth device add NAME --public-key" or "hearth device key" count.
  signing:
    trust_on_first_use: true

bridge:
  # Matrix users invited to every device room and allowed to command devices.
  # Empty list: every admin of this gateway.
  owners: []
  # One room per device, or one room per area (Home Assistant suggested_area; others keep their own).
  room_per: device
  # Device rooms are created with m.federate: false unless this is true.
  federate_device_rooms: false
  command_timeout_seconds: 10
  # Sensors per device: more keys in one payload (or announcement) are ignored, with one log line.
  max_sensors_per_device: 64
  # A sensor's latest value becomes a state event on a change beyond the deadband, at most every
  # min_interval_seconds for numbers (measurements) or discrete_min_interval_seconds for booleans
  # and strings (switches, contacts), and is refreshed after refresh_seconds of silence. Every
  # reading is kept in the history regardless. Without a deadband here, the sensor's device class
  # picks one (temperature 0.2, humidity 1, pressure 0.5, ...); deadband: 0 means any change.
  throttle:
    # deadband: 0
    min_interval_seconds: 300
    discrete_min_interval_seconds: 1
    refresh_seconds: 900
  # Raw topic rules for devices that follow no convention. $1, $2 are the + wildcards.
  raw_rules: []
  #  - topic: sensors/+/temperature
  #    device: $1
  #    sensor: temperature
  #    unit: "°C"
  #    device_class: temperature

telemetry:
  raw_retention_days: 7
  rollup_retention_days: 365
  # A QoS 1 reading is acknowledged (PUBACK) once the group commit holding it is written; it never
  # waits longer than this.
  flush_interval_ms: 1000
  # When the group commit is written (docs/telemetry.md "Group commit"):
  #   adaptive: at once when no commit started in the last min_interval_ms (a lone device gets its
  #             PUBACK in ~1 ms), else min_interval_ms after the last one: under load readings share
  #             commits, at most 1000 / min_interval_ms a second (200 devices: ~20, ~3 B per reading);
  #   interval: every flush_interval_ms, or once 64 readings wait (a lone device waits ~1 s a PUBACK).
  commit:
    mode: adaptive
    min_interval_ms: 50

storage:
  # LevelDB block cache (small: 1 GB RAM gateways) and write buffer (4 MB: the memtable absorbs
  # rewrites before they reach the SD card; 1 MB wrote ~6x more bytes per sensor reading).
  cache_size_bytes: 2097152
  write_buffer_size_bytes: 4194304
  # When writes reach the disk for good (fsync), see docs/storage.md "Durability". A killed or
  # crashed process never loses an acknowledged write in any mode; a power cut may lose:
  #   always: nothing acknowledged (an fsync per write: slower, more SD-card wear);
  #   batch:  at most the last sync_interval_ms of writes (default: an fsync each second at most);
  #   none:   whatever the OS had not written back yet (up to ~30 s).
  sync: batch
  sync_interval_ms: 1000
  # Writes are refused (503, and GET /health says why) while the disk has less free space than
  # this: LevelDB needs room to compact, and a disk filled to the last byte stops it.
  min_free_bytes: 67108864

# Rate limits (Synapse's rc_* settings and defaults): a bucket of burst_count actions per key,
# refilled at per_second. Over the limit: 429 M_LIMIT_EXCEEDED with retry_after_ms.
rate_limits:
  enabled: true
  # Events sent by a user (messages, state, redactions).
  rc_message: { per_second: 0.2, burst_count: 10 }
  # Accounts created per client address.
  rc_registration: { per_second: 0.17, burst_count: 3 }
  rc_login:
    # Login attempts per client address, and per account.
    address: { per_second: 0.003, burst_count: 5 }
    account: { per_second: 0.003, burst_count: 5 }
    # Wrong passwords per account.
    failed_attempts: { per_second: 0.17, burst_count: 3 }
  # MQTT CONNECTs with wrong credentials, per client address and per username (refused with
  # CONNACK 3 "server unavailable" while over the limit).
  rc_mqtt_connect:
    failed_address: { per_second: 0.5, burst_count: 20 }
    failed_username: { per_second: 0.1, burst_count: 10 }

connections:
  # Open client connections (HTTP and MQTT together). Each is a file descriptor; the database
  # needs some too, so connections stop below the process limit (ulimit -n). 0: that limit minus
  # a reserve for the database and files.
  max: 0

sync:
  # /sync requests waiting for news (long-polls), in total and per user; beyond these a long-poll
  # answers at once with nothing new (same next_batch) and the client polls again.
  max_long_polls: 1000
  max_long_polls_per_user: 20

media:
  # Largest file a client may upload (photos, voice messages); files live in <data dir>/media.
  max_upload_bytes: 52428800
  # Images with more pixels than this get no thumbnails (413): a few kilobytes can claim a picture
  # that needs gigabytes to decode. 33554432 = 32 M pixels (a 8000 x 4000 photo), as Synapse.
  max_image_pixels: 33554432

turn:
  # A TURN server for calls between phones outside the home (e.g. coturn with use-auth-secret and
  # static-auth-secret). Clients get short-lived credentials from /voip/turnServer. Empty: no TURN.
  # uris: ["turn:turn.example.org:3478?transport=udp", "turn:turn.example.org:3478?transport=tcp"]
  uris: []
  shared_secret: ""
  user_lifetime_seconds: 86400

metrics:
  # GET /metrics on the client port in the Prometheus text format (docs/metrics.md; HEARTH_METRICS
  # on|off). Answered only to the addresses below (others get 403): loopback by default, since the
  # numbers describe the home. Add the Prometheus server's address to scrape from elsewhere.
  enabled: true
  allow: ["127.0.0.0/8", "::1/128"]

log_level: warn
`;

/** The line of the template that names the server, commented out (the default leaves it unset). */
const SERVER_NAME_LINE = '# server_name: home.example.org\n';

/**
 * The template with its placeholders filled: the registration shared secret, and, when given, the
 * server name (`hearth init`), written as a quoted YAML string so a name like `10.0.0.2:8448`
 * stays a string.
 */
export function renderConfigTemplate(opts: { sharedSecret: string; serverName?: string }): string {
  let text = DEFAULT_CONFIG_TEMPLATE.replace('@SHARED_SECRET@', opts.sharedSecret);
  if (opts.serverName !== undefined) text = text.replace(SERVER_NAME_LINE, `server_name: ${JSON.stringify(opts.serverName)}\n`);
  return text;
}
