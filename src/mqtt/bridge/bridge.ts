/**
 * The topic-to-room bridge: the broker's inbound handler. A message's path, as named steps:
 *   1. observe   - Home Assistant bindings for the topic, else the first convention adapter that
 *                  claims it; unknown topics are counted and ignored, malformed payloads counted and
 *                  logged at debug (never thrown: the device would only resend them);
 *   1b. own      - every device the message speaks for must belong to the publishing login
 *                  (ownership.ts); a message only about other logins' devices is refused before the
 *                  broker routes or retains it, and announced command topics must be the login's;
 *   2. register  - announcements and retractions update the device registry (durable);
 *   3. record    - every reading goes to the telemetry store; the returned promise resolves when
 *                  its batch is written, which is what the QoS 1 PUBACK waits for [MQTT-4.3.2-1];
 *   4. mirror    - rooms, metadata, availability and throttled sensor values go to Matrix in the
 *                  background, in order per device (the PUBACK does not wait for Matrix);
 *   5. settle    - values and explicit results settle pending commands (commands.ts).
 */
import type { HearthConfig, SensorThrottle } from '../../config/config.js';
import type { Database } from '../../storage/db.js';
import type { TelemetryReading } from '../../telemetry/store.js';
import type { InboundHandler, InboundMessage, MqttTransport } from '../transport.js';
import { topicAdapters, type TopicAdapter } from '../adapters/index.js';
import { normaliseValue } from '../adapters/command.js';
import { readHomeAssistantAvailability, readHomeAssistantState } from '../adapters/homeassistant.js';
import { MalformedPayload, type Availability, type DeviceAnnouncement, type Observation, type Reading, type SensorInfo, type SensorValue } from '../adapters/model.js';
import type { RawRuleWithFormat } from '../adapters/raw.js';
import { CommandHandler } from './commands.js';
import { DeviceRegistry, type BridgedDevice } from './registry.js';
import { DeviceRooms } from './rooms.js';
import type { BridgeIdentityPort, BridgeLogger, BridgeRoomPort } from './room-port.js';
import { decideSensorEvent, throttleFor, type ResolvedThrottle, type ThrottleState } from './throttle.js';
import { DeviceOwnership, type ClaimOutcome } from './ownership.js';

export interface MqttBridgeDeps {
  db: Database;
  rooms: BridgeRoomPort;
  identity: BridgeIdentityPort;
  transport: Pick<MqttTransport, 'publish'>;
  telemetry: { record(reading: TelemetryReading): Promise<void> };
  config: HearthConfig['bridge'];
  /** Per-sensor throttle overrides, keyed `<device key>/<sensor>` or just `<sensor>`. */
  throttleOverrides?: Record<string, Partial<SensorThrottle>>;
  /** Per-device `m.federate` overrides. */
  federateDevices?: Record<string, boolean>;
  /**
   * Whether the MQTT login `publisher` may receive commands on `topic` (the ACL's command topics
   * of a device login): announced command topics outside them are not kept. Absent: all are kept.
   */
  mayReceiveCommands?: (publisher: string, topic: string) => boolean;
  logger: BridgeLogger;
  now?: () => number;
  /** Told of every reading and device change as it happens (the status page's live values). */
  observer?: BridgeObserver;
}

/**
 * What the bridge tells a watcher (src/status/live-devices.ts), synchronously and cheaply: a
 * reading of a registered device, and a device whose registration or availability changed.
 */
export interface BridgeObserver {
  reading(deviceKey: string, sensor: string, value: SensorValue, ts: number): void;
  deviceChanged(deviceKey: string): void;
}

export interface BridgeStats {
  messages: number;
  unknownTopics: number;
  malformed: number;
  readings: number;
  failures: number;
  commandsPublished: number;
  commandsRefused: number;
  /** Messages refused because they spoke for a device another MQTT login owns. */
  foreignClaims: number;
  /** Values ignored because their sensor would be beyond `bridge.max_sensors_per_device`. */
  valuesIgnored: number;
}

/** Devices whose availability is remembered before their announcement. */
const EARLY_AVAILABILITY_LIMIT = 1024;
/** (publisher, device) pairs whose refusal was logged: one line per pair, not one per message. */
const LOGGED_REFUSALS_LIMIT = 1024;
/** What a reading that is ignored resolves to: nothing to write. */
const NOTHING_TO_WAIT_FOR: Promise<void> = Promise.resolve();
/** Devices whose unannounced sensors are tracked, and whose sensor overflow was logged. */
const DEVICES_TRACKED_LIMIT = 4096;

interface SensorThrottleState {
  /** The resolved rule, kept per sensor: resolving allocates, and it runs for every reading. */
  rule?: ResolvedThrottle;
  /** The device class `rule` was resolved for (an announcement may set or change it). */
  ruleDeviceClass?: string;
  sent?: ThrottleState;
  deferred?: { value: SensorValue; ts: number };
  timer?: NodeJS.Timeout;
}

export class MqttBridge {
  readonly stats: BridgeStats = { messages: 0, unknownTopics: 0, malformed: 0, readings: 0, failures: 0, commandsPublished: 0, commandsRefused: 0, foreignClaims: 0, valuesIgnored: 0 };
  private readonly registry: DeviceRegistry;
  private readonly ownership: DeviceOwnership;
  private readonly loggedRefusals = new Set<string>();
  /**
   * Sensors with values but no announcement (a Homie value before `$description`, a device not
   * registered yet): they count against `max_sensors_per_device` like announced ones.
   */
  private readonly unannounced = new Map<string, Set<string>>();
  private readonly overflowLogged = new Set<string>();
  private readonly deviceRooms: DeviceRooms;
  private readonly commands: CommandHandler;
  private readonly adapters: TopicAdapter[];
  private readonly now: () => number;
  private readonly throttles = new Map<string, SensorThrottleState>();
  private readonly streamKeys = new WeakMap<SensorInfo, string>();
  /** Registry changes per device, in order. */
  private readonly serial = new Map<string, Promise<unknown>>();
  /** Matrix work per device, in order, off the PUBACK path. */
  private readonly roomWork = new Map<string, Promise<void>>();
  /** Home Assistant availability lists: the last state per (device, topic). */
  private readonly availabilityByTopic = new Map<string, boolean>();
  /**
   * Availability reported before the device was announced (Tasmota sends its `LWT` `Online` at
   * connect, its first `STATE` only a TelePeriod later; an external broker replays retained topics
   * in any order): applied when the device registers. Bounded, oldest first out.
   */
  private readonly earlyAvailability = new Map<string, Availability>();
  /** Registrations of devices not known yet: topics they bind are unknown until these settle. */
  private readonly creating = new Set<Promise<void>>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly deps: MqttBridgeDeps) {
    this.now = deps.now ?? Date.now;
    this.registry = new DeviceRegistry(deps.db, deps.config.maxSensorsPerDevice, (d, ignored) => this.sensorsIgnored(d.key, ignored));
    this.ownership = new DeviceOwnership((key) => this.registry.get(key));
    this.deviceRooms = new DeviceRooms(deps.rooms, deps.identity, this.registry, {
      roomPer: deps.config.roomPer,
      federate: deps.config.federateDeviceRooms,
      ...(deps.federateDevices ? { federateDevices: deps.federateDevices } : {}),
    });
    this.commands = new CommandHandler(deps.rooms, this.deviceRooms, this.registry, deps.transport, deps.config.commandTimeoutSeconds, deps.logger, this.stats);
    this.adapters = topicAdapters(deps.config.rawRules as RawRuleWithFormat[]);
  }

  /** Loads the registry and starts listening for commands. */
  async start(): Promise<void> {
    await this.registry.load();
    this.unsubscribe = this.deps.rooms.onEvent(this.commands.onEvent);
  }

  /** Stops listening, cancels timers, and waits for queued Matrix work. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.commands.stop();
    for (const t of this.throttles.values()) clearTimeout(t.timer);
    await this.idle();
  }

  /**
   * Devices whose Matrix work (state events, announcements) waits behind the PUBACK: how far the
   * rooms lag behind the readings already acknowledged.
   */
  get pendingRoomWork(): number {
    return this.roomWork.size;
  }

  /** Resolves when the registry and Matrix work queued so far is done. */
  async idle(): Promise<void> {
    while (this.roomWork.size > 0 || this.serial.size > 0) {
      await Promise.allSettled([...this.roomWork.values(), ...this.serial.values()]);
      await new Promise((r) => setImmediate(r));
    }
  }

  /**
   * The transport's inbound handler (see the steps above). Steps 1 and 1b run synchronously, so a
   * refusal is known before the broker routes the message, whatever its QoS.
   */
  readonly handleInbound: InboundHandler = (msg: InboundMessage) => {
    this.stats.messages++;
    let observations: Observation[] | undefined;
    try {
      observations = this.observe(msg.topic, msg.payload, msg.publisher);
    } catch (err) {
      return Promise.resolve(this.malformed(err, msg));
    }
    if (observations !== undefined && msg.publisher !== undefined) {
      observations = this.owned(observations, msg.publisher, msg.topic);
      if (observations === undefined) return { refused: 'the device belongs to another MQTT login' };
    }
    return this.handleObservations(msg, observations);
  };

  private async handleObservations(msg: InboundMessage, observations: Observation[] | undefined): Promise<void> {
    if (observations === undefined && this.creating.size > 0) {
      // A device announced in the same burst (HA discovery, then availability and state at once,
      // handled concurrently) may be about to bind this topic: look again once it is registered.
      await Promise.allSettled([...this.creating]);
      try {
        observations = this.observe(msg.topic, msg.payload, msg.publisher);
      } catch (err) {
        return this.malformed(err, msg);
      }
      // Too late to stop the routing: what belongs to another login is only kept from the bridge.
      if (observations !== undefined && msg.publisher !== undefined) observations = this.owned(observations, msg.publisher, msg.topic) ?? [];
    }
    if (observations === undefined) {
      this.stats.unknownTopics++;
      return;
    }
    // Readings of one message share one telemetry group commit, so usually one promise to wait for.
    let durable: Promise<void> | undefined;
    let more: Promise<void>[] | undefined;
    for (const o of observations) {
      const fast = this.applyFast(o);
      if (fast === null) continue;
      const p = fast ?? this.apply(o);
      if (p === durable) continue;
      if (durable === undefined) durable = p;
      else (more ??= []).push(p);
    }
    if (more) await Promise.all([durable, ...more]);
    else await durable;
  }

  private malformed(err: unknown, msg: InboundMessage): void {
    if (!(err instanceof MalformedPayload)) throw err;
    this.stats.malformed++;
    this.deps.logger.debug({ topic: msg.topic, clientId: msg.clientId, reason: err.message }, 'malformed payload ignored');
  }

  // ---- 1b. own ----

  /**
   * The observations `publisher` may make (ownership.ts): those about devices it owns or now
   * claims. `undefined` when the message spoke only of other logins' devices: refused. Announced
   * command topics outside the publisher's own are dropped from its sensors.
   */
  private owned(observations: Observation[], publisher: string, topic: string): Observation[] | undefined {
    let refused: { key: string; owner: string } | undefined;
    let kept: Observation[] | undefined;
    for (let i = 0; i < observations.length; i++) {
      const o = observations[i]!;
      const key = this.deviceOf(o);
      const outcome: ClaimOutcome = key === undefined ? { ok: true } : this.ownership.claim(key, publisher);
      if (outcome.ok) {
        if (outcome.adopted) this.adopt(outcome.adopted as BridgedDevice, publisher);
        if (o.kind === 'announce') this.keepOwnCommandTopics(o.device, publisher);
        kept?.push(o);
        continue;
      }
      refused ??= { key: key!, owner: outcome.owner };
      kept ??= observations.slice(0, i);
    }
    if (!refused) return observations;
    this.stats.foreignClaims++;
    const pair = `${publisher}\u0000${refused.key}`;
    if (!this.loggedRefusals.has(pair)) {
      if (this.loggedRefusals.size >= LOGGED_REFUSALS_LIMIT) this.loggedRefusals.clear();
      this.loggedRefusals.add(pair);
      this.deps.logger.warn({ publisher, topic, device: refused.key, owner: refused.owner }, 'mqtt message for a device another login owns refused');
    }
    return kept!.some((o) => this.deviceOf(o) !== undefined) ? kept : undefined;
  }

  /** The device an observation speaks for (a retraction: the device its topic announced). */
  private deviceOf(o: Observation): string | undefined {
    switch (o.kind) {
      case 'announce':
        return o.device.key;
      case 'reading':
        return o.reading.deviceKey;
      case 'availability':
        return o.availability.deviceKey;
      case 'command-result':
        return o.result.deviceKey;
      case 'retract':
        return this.registry.bySource(o.sourceTopic)?.key;
    }
  }

  /** A record without an owner (older than owners) just got one: keep it. */
  private adopt(d: BridgedDevice, publisher: string): void {
    this.deps.logger.warn({ device: d.key, owner: publisher }, 'bridged device without an owner claimed by the login publishing for it');
    void this.inOrder(d.key, () => this.registry.save(d)).catch((err: unknown) => this.deps.logger.warn({ err, device: d.key }, 'saving the owner failed'));
  }

  /**
   * A device may only have commands published where it listens itself (`mayReceiveCommands`):
   * otherwise a person commanding its room would make the gateway publish onto another device's
   * topics. Raw rules' command topics come from the administrator's configuration, not a device.
   */
  private keepOwnCommandTopics(a: DeviceAnnouncement, publisher: string): void {
    const allowed = this.deps.mayReceiveCommands;
    if (!allowed || a.convention === 'raw') return;
    for (const sensor of a.sensors) {
      if (!sensor.command || allowed(publisher, sensor.command.topic)) continue;
      this.deps.logger.warn({ publisher, device: a.key, sensor: sensor.key, commandTopic: sensor.command.topic }, 'announced command topic is not the publisher\'s: the sensor is read-only');
      delete sensor.command;
    }
  }

  /**
   * Whether Matrix user `userId` may publish `topic` over MQTT as a command: it must be a command
   * topic a bridged device announced, and the user must be joined to that device's room with the
   * power level the room requires for `org.hearth.command` (what a command from the room needs).
   */
  async mayCommand(userId: string, topic: string): Promise<boolean> {
    for (const d of this.registry.commandedOn(topic)) {
      if (!d.roomId || !(await this.deps.rooms.isJoined(userId, d.roomId))) continue;
      if ((await this.deps.rooms.getUserPowerLevel(d.roomId, userId)) >= (await this.commands.requiredPowerLevel(d.roomId))) return true;
    }
    return false;
  }

  /** A removed MQTT login no longer owns devices: the next login to speak for them does. */
  async releaseOwner(publisher: string): Promise<void> {
    this.ownership.releasePending(publisher);
    const released = this.registry.ownedBy(publisher);
    // Released at once, so the next message (the admin's command has returned) may claim them; saved in order.
    for (const d of released) delete d.owner;
    await Promise.all(released.map((d) => this.inOrder(d.key, () => this.registry.save(d))));
  }

  /**
   * The steady state of a known device, without queueing: a re-announcement that changes nothing is
   * dropped (`null`), and a reading is recorded at once. Only when nothing of that device is queued
   * (`serial`), or this would overtake it; otherwise `undefined` sends the observation the slow way.
   */
  private applyFast(o: Observation): Promise<void> | null | undefined {
    if (o.kind === 'announce') {
      if (this.serial.has(o.device.key)) return undefined;
      const d = this.registry.get(o.device.key);
      return d && this.registry.mergeChangesNothing(d, o.device) ? null : undefined;
    }
    if (o.kind === 'reading' && !this.serial.has(o.reading.deviceKey)) return this.record(o.reading);
    return undefined;
  }

  /** Every registered device (the status page lists them). */
  devices(): BridgedDevice[] {
    return this.registry.all();
  }

  device(key: string): BridgedDevice | undefined {
    return this.registry.get(key);
  }

  /** The state key of a sensor's `org.hearth.sensor` event, also what a command names it by. */
  sensorStateKey(d: BridgedDevice, sensor: string): string {
    return this.deviceRooms.sensorStateKey(d, sensor);
  }

  /** The telemetry stream behind a room's sensor (history endpoint), if the room shows that sensor. */
  resolveStream(roomId: string, sensor: string): string | undefined {
    const devices = this.registry.inRoom(roomId);
    const slash = sensor.indexOf('/');
    const device = slash > 0 ? devices.find((d) => d.key === sensor.slice(0, slash)) : devices.length === 1 ? devices[0] : undefined;
    const key = slash > 0 && device ? sensor.slice(slash + 1) : sensor;
    return device?.sensors[key] ? `${device.key}/${key}` : undefined;
  }

  // ---- 1. observe ----

  /**
   * Home Assistant bindings count only for the devices `publisher` owns: a device announcing
   * another device's topic as its state topic reads nothing from it.
   */
  private observe(topic: string, payload: Buffer, publisher?: string): Observation[] | undefined {
    const now = this.now();
    let states = this.registry.stateBindings(topic);
    let avails = this.registry.availabilityBindings(topic);
    if (publisher !== undefined && (states || avails)) {
      const mine = (b: { deviceKey: string }) => {
        const owner = this.ownership.ownerOf(b.deviceKey);
        return owner === undefined || owner === publisher;
      };
      if (states && !states.every(mine)) states = states.filter(mine);
      if (avails && !avails.every(mine)) avails = avails.filter(mine);
      if (states?.length === 0) states = undefined;
      if (avails?.length === 0) avails = undefined;
    }
    if (states || avails) {
      return [...readSharedStateTopic(states ?? [], payload, now), ...(avails ?? []).flatMap((b) => readHomeAssistantAvailability(b, payload))];
    }
    for (const adapter of this.adapters) {
      const out = adapter(topic, payload, now);
      if (out !== undefined) return out;
    }
    return undefined;
  }

  private apply(o: Observation): Promise<void> {
    switch (o.kind) {
      case 'announce': {
        const registering = this.inOrder(o.device.key, () => this.register(o.device));
        if (!this.registry.get(o.device.key)) {
          this.creating.add(registering);
          void registering.finally(() => this.creating.delete(registering)).catch(() => undefined);
        }
        return registering;
      }
      case 'retract':
        return this.inOrder(o.sourceTopic, () => this.retract(o.sourceTopic));
      case 'reading':
        return this.inOrder(o.reading.deviceKey, async () => undefined).then(() => this.record(o.reading));
      case 'availability':
        return this.inOrder(o.availability.deviceKey, () => this.availability(o.availability));
      case 'command-result': {
        const d = this.registry.get(o.result.deviceKey);
        if (d) this.commands.observe(d.key, o.result.sensor, normaliseValue(d.sensors[o.result.sensor], o.result.value));
        return Promise.resolve();
      }
    }
  }

  // ---- 2. register ----

  private async register(a: DeviceAnnouncement): Promise<void> {
    let d = this.registry.get(a.key);
    if (!d) {
      d = this.registry.create(a, await this.deps.identity.ensureDeviceUser(a.key));
      const owner = this.ownership.ownerOf(a.key);
      if (owner !== undefined) d.owner = owner;
      const early = this.earlyAvailability.get(a.key);
      this.earlyAvailability.delete(a.key);
      if (early) d.online = this.combinedAvailability(d, early);
      await this.registry.save(d);
      this.deps.observer?.deviceChanged(d.key);
      // The record holds the claim from now on.
      this.ownership.takeClaim(a.key);
      const created = d;
      this.mirror(d, () => this.deviceRooms.ensureRoom(created).then(() => undefined));
      return;
    }
    if (this.registry.mergeChangesNothing(d, a)) return;
    const before = JSON.stringify(d);
    const visible = this.registry.merge(d, a);
    if (JSON.stringify(d) === before) return;
    await this.registry.save(d);
    this.deps.observer?.deviceChanged(d.key);
    const device = d;
    if (visible) this.mirror(d, () => this.deviceRooms.sendDevice(device));
  }

  private async retract(sourceTopic: string): Promise<void> {
    const d = this.registry.bySource(sourceTopic);
    if (!d || !this.registry.retract(d, sourceTopic)) return;
    await this.registry.save(d);
    this.deps.observer?.deviceChanged(d.key);
    this.mirror(d, () => this.deviceRooms.sendDevice(d));
  }

  private async availability(a: Availability): Promise<void> {
    const d = this.registry.get(a.deviceKey);
    if (!d) {
      this.earlyAvailability.delete(a.deviceKey);
      this.earlyAvailability.set(a.deviceKey, a);
      if (this.earlyAvailability.size > EARLY_AVAILABILITY_LIMIT) this.earlyAvailability.delete(this.earlyAvailability.keys().next().value!);
      return;
    }
    const online = this.combinedAvailability(d, a);
    if (d.online === online) return;
    d.online = online;
    await this.registry.save(d);
    this.deps.observer?.deviceChanged(d.key);
    const ts = this.now();
    this.mirror(d, () => this.deviceRooms.sendAvailability(d, online, ts));
  }

  /** Home Assistant `availability_mode`: `all` topics online, `any` topic online, or the `latest` message. */
  private combinedAvailability(d: BridgedDevice, a: Availability): boolean {
    const list = d.availability;
    if (!a.topic || !list || list.mode === 'latest') return a.online;
    this.availabilityByTopic.set(`${d.key}\u0000${a.topic}`, a.online);
    const states = list.bindings.map((b) => this.availabilityByTopic.get(`${d.key}\u0000${b.topic}`));
    return list.mode === 'all' ? states.every((s) => s === true) : states.some((s) => s === true);
  }

  // ---- 3. record ----

  private record(r: Reading): Promise<void> {
    const d = this.registry.get(r.deviceKey);
    const info = d?.sensors[r.sensor];
    if (!info && !this.mayAddSensor(r.deviceKey, d, r.sensor)) return NOTHING_TO_WAIT_FOR;
    this.stats.readings++;
    const value = normaliseValue(info, r.value);
    const stream = info ? this.streamKeyOf(info, r.deviceKey, r.sensor) : `${r.deviceKey}/${r.sensor}`;
    const durable = this.deps.telemetry.record({ stream, ts: r.ts, value });
    if (d) {
      this.deps.observer?.reading(d.key, r.sensor, value, r.ts);
      this.commands.observe(d.key, r.sensor, value);
      this.throttledSensorEvent(d, r.sensor, stream, value, r.ts);
    }
    return durable;
  }

  /**
   * Whether a value for `sensor`, which the device never announced, may become a sensor: only
   * while the device has fewer than `max_sensors_per_device` (announced and unannounced together).
   */
  private mayAddSensor(deviceKey: string, d: BridgedDevice | undefined, sensor: string): boolean {
    let extra = this.unannounced.get(deviceKey);
    if (extra?.has(sensor)) return true;
    const announced = d ? Object.keys(d.sensors).length : 0;
    if (announced + (extra?.size ?? 0) >= this.deps.config.maxSensorsPerDevice) {
      this.stats.valuesIgnored++;
      this.sensorsIgnored(deviceKey, [sensor]);
      return false;
    }
    if (!extra) {
      if (this.unannounced.size >= DEVICES_TRACKED_LIMIT) this.unannounced.delete(this.unannounced.keys().next().value!);
      this.unannounced.set(deviceKey, (extra = new Set()));
    }
    extra.add(sensor);
    return true;
  }

  /** One log line per device the first time its sensors overflow the cap (a payload of 3,000 keys is one line). */
  private sensorsIgnored(deviceKey: string, ignored: string[]): void {
    if (this.overflowLogged.has(deviceKey)) return;
    if (this.overflowLogged.size >= DEVICES_TRACKED_LIMIT) this.overflowLogged.clear();
    this.overflowLogged.add(deviceKey);
    this.deps.logger.warn(
      { device: deviceKey, limit: this.deps.config.maxSensorsPerDevice, ignored: ignored.slice(0, 5), more: Math.max(0, ignored.length - 5) },
      'device has more sensors than bridge.max_sensors_per_device: the rest are ignored',
    );
  }

  /**
   * `<device>/<sensor>`, the telemetry stream and throttle key, built once per sensor: the same
   * string every time also keeps its hash for the map lookups it keys.
   */
  private streamKeyOf(info: SensorInfo, deviceKey: string, sensor: string): string {
    let key = this.streamKeys.get(info);
    if (key === undefined) this.streamKeys.set(info, (key = `${deviceKey}/${sensor}`));
    return key;
  }

  // ---- 4. mirror ----

  /** Applies the throttle (throttle.ts) and sends, defers or drops the sensor's state event. */
  private throttledSensorEvent(d: BridgedDevice, sensor: string, stream: string, value: SensorValue, ts: number): void {
    let st = this.throttles.get(stream);
    if (!st) this.throttles.set(stream, (st = {}));
    const deviceClass = d.sensors[sensor]?.deviceClass;
    if (!st.rule || st.ruleDeviceClass !== deviceClass) {
      const overrides = this.deps.throttleOverrides;
      st.rule = throttleFor(this.deps.config.throttle, deviceClass, overrides?.[stream] ?? overrides?.[sensor]);
      st.ruleDeviceClass = deviceClass;
    }
    const rule = st.rule;
    const now = this.now();
    const decision = decideSensorEvent(rule, st.sent, value, now);
    const state = st;
    if (decision.action === 'send') {
      clearTimeout(st.timer);
      st.timer = undefined;
      st.deferred = undefined;
      this.sendSensor(d, sensor, state, value, ts, now);
    } else if (decision.action === 'defer') {
      st.deferred = { value, ts };
      st.timer ??= setTimeout(() => {
        state.timer = undefined;
        const deferred = state.deferred;
        state.deferred = undefined;
        if (deferred) this.sendSensor(d, sensor, state, deferred.value, deferred.ts, this.now());
      }, decision.at - now);
    } else {
      // Back within the deadband of what the room shows: a deferred outlier is obsolete.
      st.deferred = undefined;
    }
  }

  private sendSensor(d: BridgedDevice, sensor: string, st: SensorThrottleState, value: SensorValue, ts: number, now: number): void {
    st.sent = { lastSent: value, lastSentAt: now };
    this.mirror(d, () => this.deviceRooms.sendSensor(d, sensor, value, ts));
  }

  private mirror(d: BridgedDevice, work: () => Promise<void>): void {
    const prev = this.roomWork.get(d.key) ?? Promise.resolve();
    const next = prev.then(work).catch((err) => {
      this.stats.failures++;
      this.deps.logger.warn({ err, device: d.key }, 'updating the device room failed');
    });
    this.roomWork.set(d.key, next);
    void next.then(() => {
      if (this.roomWork.get(d.key) === next) this.roomWork.delete(d.key);
    });
  }

  private inOrder<T>(key: string, work: () => Promise<T>): Promise<T> {
    const prev = this.serial.get(key) ?? Promise.resolve();
    const next = prev.then(work, work);
    this.serial.set(key, next);
    void next.then(
      () => this.serial.get(key) === next && this.serial.delete(key),
      () => this.serial.get(key) === next && this.serial.delete(key),
    );
    return next;
  }
}

/**
 * Several Home Assistant entities may share one state topic, each picking its key from the JSON
 * (`{{ value_json.temperature }}`). As in Home Assistant, where each entity renders its own
 * template, a message lacking one entity's key still updates the others (a device that reads its
 * sensors together publishes only those that read well); it is malformed only when no entity finds
 * its value.
 */
function readSharedStateTopic(bindings: Parameters<typeof readHomeAssistantState>[0][], payload: Buffer, now: number): Observation[] {
  if (bindings.length <= 1) return bindings.flatMap((b) => readHomeAssistantState(b, payload, now));
  const observations: Observation[] = [];
  let firstError: unknown;
  for (const binding of bindings) {
    try {
      observations.push(...readHomeAssistantState(binding, payload, now));
    } catch (err) {
      if (!(err instanceof MalformedPayload)) throw err;
      firstError ??= err;
    }
  }
  if (observations.length === 0 && firstError !== undefined) throw firstError;
  return observations;
}
