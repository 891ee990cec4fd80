/**
 * The topic-to-room bridge: the broker's inbound handler. A message's path, as named steps:
 *   1. observe   - Home Assistant bindings for the topic, else the first convention adapter that
 *                  claims it; unknown topics are counted and ignored, malformed payloads counted and
 *                  logged at debug (never thrown: the device would only resend them);
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
  logger: BridgeLogger;
  now?: () => number;
}

export interface BridgeStats {
  messages: number;
  unknownTopics: number;
  malformed: number;
  readings: number;
  failures: number;
  commandsPublished: number;
  commandsRefused: number;
}

/** Devices whose availability is remembered before their announcement. */
const EARLY_AVAILABILITY_LIMIT = 1024;

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
  readonly stats: BridgeStats = { messages: 0, unknownTopics: 0, malformed: 0, readings: 0, failures: 0, commandsPublished: 0, commandsRefused: 0 };
  private readonly registry: DeviceRegistry;
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
    this.registry = new DeviceRegistry(deps.db);
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

  /** Resolves when the registry and Matrix work queued so far is done. */
  async idle(): Promise<void> {
    while (this.roomWork.size > 0 || this.serial.size > 0) {
      await Promise.allSettled([...this.roomWork.values(), ...this.serial.values()]);
      await new Promise((r) => setImmediate(r));
    }
  }

  /** The transport's inbound handler (see the steps above). */
  readonly handleInbound: InboundHandler = async (msg: InboundMessage) => {
    this.stats.messages++;
    let observations: Observation[] | undefined;
    try {
      observations = this.observe(msg.topic, msg.payload);
      if (observations === undefined && this.creating.size > 0) {
        // A device announced in the same burst (HA discovery, then availability and state at once,
        // handled concurrently) may be about to bind this topic: look again once it is registered.
        await Promise.allSettled([...this.creating]);
        observations = this.observe(msg.topic, msg.payload);
      }
    } catch (err) {
      if (!(err instanceof MalformedPayload)) throw err;
      this.stats.malformed++;
      this.deps.logger.debug({ topic: msg.topic, clientId: msg.clientId, reason: err.message }, 'malformed payload ignored');
      return;
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
  };

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

  /** The telemetry stream behind a room's sensor (history endpoint), if the room shows that sensor. */
  resolveStream(roomId: string, sensor: string): string | undefined {
    const devices = this.registry.inRoom(roomId);
    const slash = sensor.indexOf('/');
    const device = slash > 0 ? devices.find((d) => d.key === sensor.slice(0, slash)) : devices.length === 1 ? devices[0] : undefined;
    const key = slash > 0 && device ? sensor.slice(slash + 1) : sensor;
    return device?.sensors[key] ? `${device.key}/${key}` : undefined;
  }

  // ---- 1. observe ----

  private observe(topic: string, payload: Buffer): Observation[] | undefined {
    const now = this.now();
    const states = this.registry.stateBindings(topic);
    const avails = this.registry.availabilityBindings(topic);
    if (states || avails) {
      return [
        ...(states ?? []).flatMap((b) => readHomeAssistantState(b, payload, now)),
        ...(avails ?? []).flatMap((b) => readHomeAssistantAvailability(b, payload)),
      ];
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
      const early = this.earlyAvailability.get(a.key);
      this.earlyAvailability.delete(a.key);
      if (early) d.online = this.combinedAvailability(d, early);
      await this.registry.save(d);
      const created = d;
      this.mirror(d, () => this.deviceRooms.ensureRoom(created).then(() => undefined));
      return;
    }
    if (this.registry.mergeChangesNothing(d, a)) return;
    const before = JSON.stringify(d);
    const visible = this.registry.merge(d, a);
    if (JSON.stringify(d) === before) return;
    await this.registry.save(d);
    const device = d;
    if (visible) this.mirror(d, () => this.deviceRooms.sendDevice(device));
  }

  private async retract(sourceTopic: string): Promise<void> {
    const d = this.registry.bySource(sourceTopic);
    if (!d || !this.registry.retract(d, sourceTopic)) return;
    await this.registry.save(d);
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
    this.stats.readings++;
    const d = this.registry.get(r.deviceKey);
    const info = d?.sensors[r.sensor];
    const value = normaliseValue(info, r.value);
    const stream = info ? this.streamKeyOf(info, r.deviceKey, r.sensor) : `${r.deviceKey}/${r.sensor}`;
    const durable = this.deps.telemetry.record({ stream, ts: r.ts, value });
    if (d) {
      this.commands.observe(d.key, r.sensor, value);
      this.throttledSensorEvent(d, r.sensor, stream, value, r.ts);
    }
    return durable;
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
