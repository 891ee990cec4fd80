/**
 * Gateway configuration: defaults, the generated `hearth.yaml` under the data directory, and
 * environment overrides (HEARTH_*) for scripts and tests. Environment beats file beats defaults.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import YAML from 'yaml';
import { renderConfigTemplate } from './template.js';
import { DEFAULT_ROOM_VERSION, SUPPORTED_ROOM_VERSIONS, isSupportedRoomVersion } from '../core/room-versions.js';
import type { RoomVersionId } from '../core/types.js';
import { COMMIT_MODES, DEFAULT_COMMIT, type CommitSetting } from '../telemetry/commit-policy.js';
import { LOOPBACK_RANGES, parseAddressRanges } from '../metrics/access.js';

export type RegistrationMode = 'closed' | 'token' | 'open';

/** A token bucket (limits/rate-limiter.ts): `burstCount` actions at once, refilled at `perSecond`. */
export interface RateLimitSetting {
  perSecond: number;
  burstCount: number;
}

/**
 * When LevelDB fsyncs (docs/storage.md "Durability"): `always` every write batch (survives a power
 * cut, costs SD-card wear and latency); `batch` at most every `syncIntervalMs` (a power cut loses at
 * most that window); `none` never (the OS writes back within ~30 s). A SIGKILL loses nothing
 * acknowledged in any mode: the write(2) into the log precedes the answer.
 */
export type StorageSyncMode = 'always' | 'batch' | 'none';

export interface SensorThrottle {
  /**
   * Minimum change that counts as new (absolute, in the sensor's unit). 0: any change. When not
   * configured, the sensor's device class picks one (`DEVICE_CLASS_DEADBANDS`), else 0.
   */
  deadband?: number;
  /**
   * Numeric sensors (measurements that drift: temperature, power): at most one state event per this
   * many seconds. Default 300, the reporting interval of typical Zigbee climate sensors: each state
   * event is a signed DAG event every member syncs and the SD card stores, and the history keeps
   * every reading anyway.
   */
  minIntervalSeconds: number;
  /**
   * Discrete sensors (booleans and strings: switches, contacts, modes): at most one state event per
   * this many seconds. Default 1: their changes are rare and each one matters at once; the floor
   * only stops a chattering contact from flooding the room.
   */
  discreteMinIntervalSeconds: number;
  /** Re-emit an unchanged value after this many seconds of silence. */
  refreshSeconds: number;
}

/**
 * Default deadbands by Home Assistant device class, in the class's usual unit: changes smaller than
 * these are sensor noise to a person reading the room (the history keeps every reading anyway).
 */
export const DEVICE_CLASS_DEADBANDS: Readonly<Record<string, number>> = {
  temperature: 0.2,
  humidity: 1,
  moisture: 1,
  pressure: 0.5,
  atmospheric_pressure: 0.5,
  illuminance: 10,
  battery: 1,
  voltage: 0.1,
  current: 0.05,
  power: 1,
  carbon_dioxide: 20,
  pm25: 1,
  pm10: 1,
  volatile_organic_compounds: 10,
  signal_strength: 3,
  sound_pressure: 1,
};

export interface RawRule {
  /** MQTT topic filter with `+`/`#`, e.g. `sensors/+/temperature`. */
  topic: string;
  /** Device id; `$1`, `$2`... refer to the `+` wildcards in order. */
  device: string;
  /** Sensor key within the device; may use `$n` too. */
  sensor: string;
  /** Dotted path into a JSON payload (absent: the payload itself is the value). */
  valuePath?: string;
  unit?: string;
  deviceClass?: string;
  /** Topic a command for this sensor is published on (may use `$n`). */
  commandTopic?: string;
}

/** A notary (server-server "Querying Keys Through Another Server") and, optionally, its keys. */
export interface TrustedKeyServer {
  serverName: string;
  /** Key id -> unpadded base64 public key. Empty: the notary's keys are fetched from it directly. */
  verifyKeys: Record<string, string>;
}

/** Where `serverName` came from: a mismatch with the data directory's name is reported in these terms. */
export type ServerNameSource = 'environment' | 'hearth.yaml' | 'default';

export interface HearthConfig {
  serverName: string;
  /**
   * `default` (localhost:<client port>) yields to the name recorded in the data directory; a
   * configured name that differs from it is refused at start (src/app/server-name.ts).
   */
  serverNameSource: ServerNameSource;
  dataDir: string;
  /**
   * The version of rooms created without one (`default_room_version`; the `m.room_versions`
   * capability's default). The spec recommends 12 (rooms/_index); any of 1-12 is accepted.
   */
  defaultRoomVersion: RoomVersionId;
  client: { bindAddress: string; port: number; publicBaseUrl: string };
  federation: {
    port: number;
    bindAddress: string;
    /**
     * Serve TLS on the federation port (server-server "TLS"). False: plain HTTP, for a reverse proxy
     * that terminates TLS in front of it (docs/federation.md).
     */
    tls: boolean;
    /** PEM certificate (chain) and key; empty: a self-signed pair generated into the data directory. */
    tlsCertificatePath: string;
    tlsPrivateKeyPath: string;
    /** Check other servers' certificates (Synapse's `federation_verify_certificates`); false for test setups only. */
    verifyTls: boolean;
    /** Notaries asked for other servers' keys (Synapse's `trusted_key_servers`); empty: ask each server itself. */
    trustedKeyServers: TrustedKeyServer[];
    /**
     * Address ranges the federation client never connects to, added to the built-in list of private,
     * loopback, link-local and reserved ranges (federation/transport/address-policy.ts).
     */
    ipRangeBlocklist: string[];
    /** Ranges reached even when blocked (a LAN peer; `127.0.0.1` for loopback tests; HEARTH_FEDERATION_IP_RANGE_ALLOWLIST). */
    ipRangeAllowlist: string[];
    /**
     * Pull mode for a gateway behind NAT (docs/federation.md "Offline"): every this many seconds,
     * ask each server we share a room with for the events we lack. 0 (default): off.
     */
    pullIntervalSeconds: number;
    /**
     * Pull mode's interval while a local client is syncing (a `/sync` open or answered within the
     * last minute): someone is looking at the rooms. Default 5; 0, or not shorter: the interval above.
     */
    pullIntervalActiveSeconds: number;
    /**
     * No correct clock reads before this date (ISO 8601, e.g. `2027-03-01`); empty: this release's
     * date. A clock before it, behind the last event we signed or far in the future pauses federation
     * (docs/federation.md "Clock").
     */
    clockNotBefore: string;
  };
  registration: { mode: RegistrationMode; tokens: string[]; sharedSecret: string };
  mqtt: {
    /** `embedded` runs aedes in-process; `external` connects to `externalUrl` as a client. */
    mode: 'embedded' | 'external';
    port: number;
    bindAddress: string;
    /** Path on the client port where MQTT over WebSocket is served. */
    websocketPath: string;
    externalUrl: string;
    externalUsername: string;
    externalPassword: string;
    allowAnonymous: boolean;
    maxPayloadBytes: number;
    /** Offline messages kept per persistent session (aedes does not cap these itself, issue #1087). */
    offlineQueueLimit: number;
    /** Offline payload bytes kept per persistent session, and over all sessions together. */
    offlineQueueBytes: number;
    offlineQueueTotalBytes: number;
    /**
     * Retained messages kept, per MQTT login and in total, counted in messages and in bytes (topic
     * plus payload); beyond them a message is delivered but not retained (docs/mqtt.md "Limits").
     */
    retained: { maxMessages: number; maxBytes: number; maxMessagesPerClient: number; maxBytesPerClient: number };
    /**
     * Signed readings (docs/mqtt.md "Signed readings"): a device without a public key that sends a
     * validly signed message offering one has that key pinned (trust on first use).
     */
    signing: { trustOnFirstUse: boolean };
  };
  bridge: {
    /** Matrix users invited to every device room and allowed to command devices. Empty: all admins. */
    owners: string[];
    /** One room per device, or one room per area. */
    roomPer: 'device' | 'area';
    federateDeviceRooms: boolean;
    commandTimeoutSeconds: number;
    /**
     * Sensors a bridged device may have: keys beyond it in a payload or announcement are ignored
     * (one log line per device), so one message cannot create thousands of state events.
     */
    maxSensorsPerDevice: number;
    throttle: SensorThrottle;
    rawRules: RawRule[];
  };
  telemetry: {
    rawRetentionDays: number;
    rollupRetentionDays: number;
    /** The longest a reading waits for the group commit that acknowledges it (QoS 1 PUBACK). */
    flushIntervalMs: number;
    /**
     * When the group commit is written (telemetry/commit-policy.ts, docs/telemetry.md "Group
     * commit"): `adaptive` (default) at once when no commit started in the last `minIntervalMs`,
     * else that long after the last one; `interval` only every `flushIntervalMs` (or 64 readings).
     */
    commit: CommitSetting;
  };
  storage: { cacheSizeBytes: number; writeBufferSizeBytes: number; sync: StorageSyncMode; syncIntervalMs: number; minFreeBytes: number };
  /**
   * Rate limits, Synapse's `rc_*` settings with Synapse's defaults (429 M_LIMIT_EXCEEDED); MQTT
   * CONNECTs with wrong credentials per client address and per username (refused with CONNACK 3).
   * `enabled: false` (or HEARTH_RATE_LIMITS=off, for test rigs and benchmarks) turns them all off.
   */
  rateLimits: {
    enabled: boolean;
    rcMessage: RateLimitSetting;
    rcRegistration: RateLimitSetting;
    rcLogin: { address: RateLimitSetting; account: RateLimitSetting; failedAttempts: RateLimitSetting };
    rcMqttConnect: { failedAddress: RateLimitSetting; failedUsername: RateLimitSetting };
  };
  /**
   * Open connections (HTTP and MQTT together, each a file descriptor) are capped below the
   * process's descriptor limit, so sockets cannot exhaust the descriptors LevelDB needs (EMFILE).
   * 0: the descriptor limit minus a reserve for the database and files.
   */
  connections: { max: number };
  /** Parked /sync long-polls, in total and per user; beyond these a long-poll answers at once. */
  sync: { maxLongPolls: number; maxLongPollsPerUser: number };
  /**
   * The content repository: largest upload accepted (client-server "Content repository"); images
   * with more pixels than `maxImagePixels` get no thumbnails (Synapse's `max_image_pixels`, 32 M), so
   * a small file claiming a huge picture is refused before it is decoded.
   */
  media: { maxUploadBytes: number; maxImagePixels: number };
  /**
   * TURN for voice and video calls (client-server "Voice over IP"): a coturn-style server with the
   * REST-API shared secret (`use-auth-secret`), as Synapse's `turn_uris` / `turn_shared_secret`.
   */
  turn: { uris: string[]; sharedSecret: string; userLifetimeSeconds: number };
  /**
   * `GET /metrics` on the client port, in the Prometheus text format (docs/metrics.md). `allow`:
   * the client addresses (IP ranges) it answers; others get 403. Default: loopback only, since the
   * numbers (device counts, federation peers) describe the home.
   */
  metrics: { enabled: boolean; allow: string[] };
  logLevel: string;
}

export function defaultConfig(dataDir: string): HearthConfig {
  return {
    serverName: 'localhost:8008',
    serverNameSource: 'default',
    dataDir,
    defaultRoomVersion: DEFAULT_ROOM_VERSION,
    client: { bindAddress: '127.0.0.1', port: 8008, publicBaseUrl: '' },
    federation: {
      port: 8448,
      bindAddress: '0.0.0.0',
      tls: true,
      tlsCertificatePath: '',
      tlsPrivateKeyPath: '',
      verifyTls: true,
      trustedKeyServers: [],
      ipRangeBlocklist: [],
      ipRangeAllowlist: [],
      pullIntervalSeconds: 0,
      pullIntervalActiveSeconds: 5,
      clockNotBefore: '',
    },
    registration: { mode: 'closed', tokens: [], sharedSecret: '' },
    mqtt: {
      mode: 'embedded',
      port: 1883,
      bindAddress: '0.0.0.0',
      websocketPath: '/_hearth/mqtt',
      externalUrl: '',
      externalUsername: '',
      externalPassword: '',
      allowAnonymous: false,
      maxPayloadBytes: 65536,
      offlineQueueLimit: 1000,
      offlineQueueBytes: 4 * 1024 * 1024,
      offlineQueueTotalBytes: 32 * 1024 * 1024,
      // A 1 GB gateway: at most 32 MB of retained payloads on disk, ~1.5 MB of index in memory.
      retained: { maxMessages: 10_000, maxBytes: 32 * 1024 * 1024, maxMessagesPerClient: 1000, maxBytesPerClient: 4 * 1024 * 1024 },
      // The device agent signs out of the box; the first key a device presents is kept, as SSH does.
      signing: { trustOnFirstUse: true },
    },
    bridge: {
      owners: [],
      roomPer: 'device',
      federateDeviceRooms: false,
      commandTimeoutSeconds: 10,
      maxSensorsPerDevice: 64,
      // Every reading is kept in history; the room's state shows meaningful changes. Sensor state
      // events are the costliest writes of the gateway (a signed event, its indexes, and later
      // compactions: ~2-4 KB each on the SD card), so a busy sensor updates its room at most once
      // a minute, and a quiet one is refreshed every 15 minutes (docs/performance.md).
      throttle: { minIntervalSeconds: 300, discreteMinIntervalSeconds: 1, refreshSeconds: 900 },
      rawRules: [],
    },
    // A lone device's reading is acknowledged at once; 200 devices share at most 20 commits a
    // second (issue 14, docs/performance.md "A lone device's PUBACK").
    telemetry: { rawRetentionDays: 7, rollupRetentionDays: 365, flushIntervalMs: 1000, commit: { ...DEFAULT_COMMIT } },
    // Writes stop while the disk has less than 64 MB free: LevelDB's compactions need room to
    // finish, and a full disk latched errors until a restart (docs/storage.md).
    storage: { cacheSizeBytes: 2 * 1024 * 1024, writeBufferSizeBytes: 4 * 1024 * 1024, sync: 'batch', syncIntervalMs: 1000, minFreeBytes: 64 * 1024 * 1024 },
    rateLimits: {
      enabled: true,
      rcMessage: { perSecond: 0.2, burstCount: 10 },
      rcRegistration: { perSecond: 0.17, burstCount: 3 },
      rcLogin: {
        address: { perSecond: 0.003, burstCount: 5 },
        account: { perSecond: 0.003, burstCount: 5 },
        failedAttempts: { perSecond: 0.17, burstCount: 3 },
      },
      // Device passwords are 144 random bits: these limits are against the cost of checking them
      // (an scrypt each), not guessing; a device whose own retries lock it out waits ~10 s.
      rcMqttConnect: { failedAddress: { perSecond: 0.5, burstCount: 20 }, failedUsername: { perSecond: 0.1, burstCount: 10 } },
    },
    connections: { max: 0 },
    sync: { maxLongPolls: 1000, maxLongPollsPerUser: 20 },
    media: { maxUploadBytes: 50 * 1024 * 1024, maxImagePixels: 32 * 1024 * 1024 },
    turn: { uris: [], sharedSecret: '', userLifetimeSeconds: 86400 },
    metrics: { enabled: true, allow: [...LOOPBACK_RANGES] },
    logLevel: 'warn',
  };
}

/** Deep-merge plain objects; arrays and scalars from `over` replace those in `base`. */
function merge<T>(base: T, over: unknown): T {
  if (over === null || typeof over !== 'object' || Array.isArray(over)) return base;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
    const cur = out[k];
    out[k] =
      cur && typeof cur === 'object' && !Array.isArray(cur) && v && typeof v === 'object' && !Array.isArray(v)
        ? merge(cur, v)
        : v;
  }
  return out as T;
}

/** The registration shared secret a new hearth.yaml gets. */
export function newSharedSecret(): string {
  return randomBytes(24).toString('hex');
}

function intFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number, got "${raw}"`);
  return n;
}

/**
 * Loads the configuration for a data directory, writing a commented `hearth.yaml` on first run.
 * The registration shared secret is generated once and stored in the file.
 */
export function loadConfig(opts: { dataDir?: string; env?: NodeJS.ProcessEnv } = {}): HearthConfig {
  const env = opts.env ?? process.env;
  const dataDir = resolve(opts.dataDir ?? env.HEARTH_DATA_DIR ?? './data');
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'hearth.yaml');
  if (!existsSync(file)) {
    writeFileSync(file, renderConfigTemplate({ sharedSecret: newSharedSecret() }), { mode: 0o600 });
  }
  const fromFile: unknown = YAML.parse(readFileSync(file, 'utf8')) ?? {};
  let config = merge(defaultConfig(dataDir), camelize(fromFile));
  config.dataDir = dataDir;

  const clientPort = intFromEnv('HEARTH_CLIENT_PORT');
  if (clientPort !== undefined) config.client.port = clientPort;
  const fedPort = intFromEnv('HEARTH_FEDERATION_PORT');
  if (fedPort !== undefined) config.federation.port = fedPort;
  const mqttPort = intFromEnv('HEARTH_MQTT_PORT');
  if (mqttPort !== undefined) config.mqtt.port = mqttPort;
  config.federation.trustedKeyServers = trustedKeyServersOf(fromFile);
  const verifyTls = env.HEARTH_FEDERATION_VERIFY_TLS;
  if (verifyTls !== undefined && verifyTls !== '') {
    if (!['true', 'false', '1', '0'].includes(verifyTls)) throw new Error(`HEARTH_FEDERATION_VERIFY_TLS must be true or false, got "${verifyTls}"`);
    config.federation.verifyTls = verifyTls === 'true' || verifyTls === '1';
  }
  const pullInterval = env.HEARTH_FEDERATION_PULL_INTERVAL_SECONDS;
  if (pullInterval !== undefined && pullInterval !== '') config.federation.pullIntervalSeconds = Number(pullInterval);
  const pull = config.federation.pullIntervalSeconds;
  if (typeof pull !== 'number' || !Number.isInteger(pull) || pull < 0 || pull > 86_400) {
    throw new Error(`federation.pull_interval_seconds must be a whole number of seconds from 0 (off) to 86400, got ${JSON.stringify(pull)}`);
  }
  const pullActive = env.HEARTH_FEDERATION_PULL_INTERVAL_ACTIVE_SECONDS;
  if (pullActive !== undefined && pullActive !== '') config.federation.pullIntervalActiveSeconds = Number(pullActive);
  const active = config.federation.pullIntervalActiveSeconds;
  if (typeof active !== 'number' || !Number.isInteger(active) || active < 0 || active > 86_400) {
    throw new Error(`federation.pull_interval_active_seconds must be a whole number of seconds from 0 to 86400, got ${JSON.stringify(active)}`);
  }
  if (env.HEARTH_FEDERATION_CLOCK_NOT_BEFORE !== undefined) config.federation.clockNotBefore = env.HEARTH_FEDERATION_CLOCK_NOT_BEFORE;
  const notBefore = config.federation.clockNotBefore;
  if (typeof notBefore !== 'string' || (notBefore !== '' && !Number.isFinite(Date.parse(notBefore)))) {
    throw new Error(`federation.clock_not_before must be a date (ISO 8601, e.g. 2027-03-01) or empty, got ${JSON.stringify(notBefore)}`);
  }
  if (env.HEARTH_FEDERATION_IP_RANGE_ALLOWLIST) {
    config.federation.ipRangeAllowlist = env.HEARTH_FEDERATION_IP_RANGE_ALLOWLIST.split(',').map((r) => r.trim()).filter((r) => r !== '');
  }
  if (env.HEARTH_SERVER_NAME) {
    config.serverName = env.HEARTH_SERVER_NAME;
    config.serverNameSource = 'environment';
  } else if (hasKey(fromFile, 'server_name')) {
    config.serverNameSource = 'hearth.yaml';
  } else {
    config.serverName = `localhost:${config.client.port}`;
    config.serverNameSource = 'default';
  }
  const reg = env.HEARTH_REGISTRATION;
  if (reg) {
    if (reg !== 'closed' && reg !== 'token' && reg !== 'open') {
      throw new Error(`HEARTH_REGISTRATION must be closed, token or open, got "${reg}"`);
    }
    config.registration.mode = reg;
  }
  if (env.HEARTH_MQTT_EXTERNAL_URL) {
    config.mqtt.mode = 'external';
    config.mqtt.externalUrl = env.HEARTH_MQTT_EXTERNAL_URL;
  }
  if (env.HEARTH_TELEMETRY_COMMIT_MODE) config.telemetry.commit.mode = env.HEARTH_TELEMETRY_COMMIT_MODE as CommitSetting['mode'];
  const minCommitInterval = env.HEARTH_TELEMETRY_COMMIT_MIN_INTERVAL_MS;
  if (minCommitInterval !== undefined && minCommitInterval !== '') config.telemetry.commit.minIntervalMs = Number(minCommitInterval);
  if (env.HEARTH_LOG_LEVEL) config.logLevel = env.HEARTH_LOG_LEVEL;
  if (env.HEARTH_RATE_LIMITS) {
    if (env.HEARTH_RATE_LIMITS !== 'on' && env.HEARTH_RATE_LIMITS !== 'off') {
      throw new Error(`HEARTH_RATE_LIMITS must be on or off, got "${env.HEARTH_RATE_LIMITS}"`);
    }
    config.rateLimits.enabled = env.HEARTH_RATE_LIMITS === 'on';
  }
  if (env.HEARTH_METRICS) {
    if (env.HEARTH_METRICS !== 'on' && env.HEARTH_METRICS !== 'off') throw new Error(`HEARTH_METRICS must be on or off, got "${env.HEARTH_METRICS}"`);
    config.metrics.enabled = env.HEARTH_METRICS === 'on';
  }
  checkMetrics(config.metrics);
  if (typeof config.mqtt.signing?.trustOnFirstUse !== 'boolean') {
    throw new Error(`mqtt.signing.trust_on_first_use must be true or false, got ${JSON.stringify(config.mqtt.signing?.trustOnFirstUse)}`);
  }
  checkLimits(config);
  checkTelemetryCommit(config.telemetry);
  config.defaultRoomVersion = roomVersionSetting(config.defaultRoomVersion);
  if (!config.client.publicBaseUrl) config.client.publicBaseUrl = `http://${config.client.bindAddress}:${config.client.port}`;
  config = Object.freeze(config);
  return config;
}

/** `default_room_version`: YAML reads `12` as a number; anything but a supported version stops the start. */
function roomVersionSetting(value: unknown): RoomVersionId {
  const version = typeof value === 'number' ? String(value) : value;
  if (typeof version !== 'string' || !isSupportedRoomVersion(version)) {
    throw new Error(`default_room_version must be one of ${SUPPORTED_ROOM_VERSIONS.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return version;
}

/** Settings a typo would turn into a crash or a silent "no limit" are refused at start. */
function checkLimits(config: HearthConfig): void {
  const { rcMessage, rcRegistration, rcLogin, rcMqttConnect } = config.rateLimits;
  const buckets: Record<string, RateLimitSetting> = {
    'rate_limits.rc_message': rcMessage,
    'rate_limits.rc_registration': rcRegistration,
    'rate_limits.rc_login.address': rcLogin.address,
    'rate_limits.rc_login.account': rcLogin.account,
    'rate_limits.rc_login.failed_attempts': rcLogin.failedAttempts,
    'rate_limits.rc_mqtt_connect.failed_address': rcMqttConnect.failedAddress,
    'rate_limits.rc_mqtt_connect.failed_username': rcMqttConnect.failedUsername,
  };
  for (const [name, b] of Object.entries(buckets)) {
    if (typeof b?.perSecond !== 'number' || !(b.perSecond >= 0) || typeof b.burstCount !== 'number' || !(b.burstCount >= 1)) {
      throw new Error(`${name} needs per_second >= 0 and burst_count >= 1`);
    }
  }
  const counts: Record<string, unknown> = {
    'connections.max': config.connections.max,
    'sync.max_long_polls': config.sync.maxLongPolls,
    'sync.max_long_polls_per_user': config.sync.maxLongPollsPerUser,
    'storage.sync_interval_ms': config.storage.syncIntervalMs,
    'storage.min_free_bytes': config.storage.minFreeBytes,
    'media.max_image_pixels': config.media.maxImagePixels,
  };
  for (const [name, n] of Object.entries(counts)) {
    if (!Number.isInteger(n) || (n as number) < 0) throw new Error(`${name} must be a whole number >= 0, got ${String(n)}`);
  }
  if (!['always', 'batch', 'none'].includes(config.storage.sync)) {
    throw new Error(`storage.sync must be always, batch or none, got "${String(config.storage.sync)}"`);
  }
}

/**
 * `telemetry.flush_interval_ms` and `telemetry.commit`: a typo in the mode must not silently fall
 * back to one (the two differ by a second per PUBACK), and a minimum interval above the flush
 * interval would never apply.
 */
function checkTelemetryCommit(telemetry: HearthConfig['telemetry']): void {
  const flush = telemetry.flushIntervalMs;
  if (!Number.isInteger(flush) || flush < 1 || flush > 60_000) {
    throw new Error(`telemetry.flush_interval_ms must be a whole number of milliseconds from 1 to 60000, got ${JSON.stringify(flush)}`);
  }
  const commit = telemetry.commit as unknown;
  if (commit === null || typeof commit !== 'object' || Array.isArray(commit)) {
    throw new Error(`telemetry.commit must be a map with mode and min_interval_ms, got ${JSON.stringify(commit)}`);
  }
  const { mode, minIntervalMs } = telemetry.commit;
  if (!COMMIT_MODES.includes(mode)) {
    throw new Error(`telemetry.commit.mode must be ${COMMIT_MODES.join(' or ')}, got ${JSON.stringify(mode)}`);
  }
  if (!Number.isInteger(minIntervalMs) || minIntervalMs < 0 || minIntervalMs > flush) {
    throw new Error(`telemetry.commit.min_interval_ms must be a whole number of milliseconds from 0 to telemetry.flush_interval_ms (${flush}), got ${JSON.stringify(minIntervalMs)}`);
  }
}

/**
 * `metrics`: a typo in `enabled` must not publish or hide the endpoint by accident, and a range that
 * does not parse must stop the start rather than leave the endpoint open to less than intended.
 */
function checkMetrics(metrics: HearthConfig['metrics']): void {
  if (typeof metrics.enabled !== 'boolean') throw new Error(`metrics.enabled must be true or false, got ${JSON.stringify(metrics.enabled)}`);
  if (!Array.isArray(metrics.allow) || metrics.allow.some((r) => typeof r !== 'string')) {
    throw new Error(`metrics.allow must be a list of IP addresses or ranges (CIDR), got ${JSON.stringify(metrics.allow)}`);
  }
  parseAddressRanges(metrics.allow, 'metrics.allow');
}

/**
 * `federation.trusted_key_servers`, read from the file as written: key ids such as `ed25519:a_b`
 * must not go through `camelize`. Synapse's shape: `[{ server_name, verify_keys: { id: key } }]`.
 */
function trustedKeyServersOf(fromFile: unknown): TrustedKeyServer[] {
  const federation = hasKey(fromFile, 'federation') ? (fromFile as Record<string, unknown>).federation : undefined;
  const list = hasKey(federation, 'trusted_key_servers') ? (federation as Record<string, unknown>).trusted_key_servers : undefined;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw new Error('federation.trusted_key_servers must be a list');
  return list.map((entry: unknown, i) => {
    const e = (entry ?? {}) as Record<string, unknown>;
    if (typeof e.server_name !== 'string' || e.server_name === '') throw new Error(`federation.trusted_key_servers[${i}] needs a server_name`);
    const verifyKeys: Record<string, string> = {};
    if (e.verify_keys !== undefined && e.verify_keys !== null) {
      if (typeof e.verify_keys !== 'object' || Array.isArray(e.verify_keys)) throw new Error(`federation.trusted_key_servers[${i}].verify_keys must be a map of key id to key`);
      for (const [keyId, key] of Object.entries(e.verify_keys as Record<string, unknown>)) {
        if (typeof key !== 'string') throw new Error(`federation.trusted_key_servers[${i}].verify_keys.${keyId} must be a string`);
        verifyKeys[keyId] = key;
      }
    }
    return { serverName: e.server_name, verifyKeys };
  });
}

function hasKey(obj: unknown, key: string): boolean {
  return obj !== null && typeof obj === 'object' && key in (obj as object);
}

/** The YAML file uses snake_case like Synapse's; the code uses camelCase. */
function camelize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(camelize);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = camelize(v);
  }
  return out;
}
