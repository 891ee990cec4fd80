/** The commented `hearth.yaml` written into the data directory on first run. */
export const DEFAULT_CONFIG_TEMPLATE = `# Hearth gateway configuration.
# Environment variables override the basics: HEARTH_DATA_DIR, HEARTH_SERVER_NAME,
# HEARTH_CLIENT_PORT, HEARTH_FEDERATION_PORT, HEARTH_MQTT_PORT, HEARTH_REGISTRATION.

# The Matrix server name. User ids look like @alice:<server_name>. Cannot change once users exist.
# Default: localhost:<client port>.
# server_name: home.example.org

client:
  # Where the Client-Server API listens (also serves MQTT over WebSocket, see mqtt.websocket_path).
  bind_address: 127.0.0.1
  port: 8008

federation:
  port: 8448

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
  offline_queue_limit: 1000

bridge:
  # Matrix users invited to every device room and allowed to command devices.
  # Empty list: every admin of this gateway.
  owners: []
  # One room per device, or one room per area (Home Assistant suggested_area / raw rule area).
  room_per: device
  # Device rooms are created with m.federate: false unless this is true.
  federate_device_rooms: false
  command_timeout_seconds: 10
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
  flush_interval_ms: 1000

storage:
  # LevelDB block cache (small: 1 GB RAM gateways) and write buffer (4 MB: the memtable absorbs
  # rewrites before they reach the SD card; 1 MB wrote ~6x more bytes per sensor reading).
  cache_size_bytes: 2097152
  write_buffer_size_bytes: 4194304

media:
  # Largest file a client may upload (photos, voice messages); files live in <data dir>/media.
  max_upload_bytes: 52428800

turn:
  # A TURN server for calls between phones outside the home (e.g. coturn with use-auth-secret and
  # static-auth-secret). Clients get short-lived credentials from /voip/turnServer. Empty: no TURN.
  # uris: ["turn:turn.example.org:3478?transport=udp", "turn:turn.example.org:3478?transport=tcp"]
  uris: []
  shared_secret: ""
  user_lifetime_seconds: 86400

log_level: warn
`;
