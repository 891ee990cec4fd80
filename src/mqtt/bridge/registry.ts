/**
 * The bridged-device registry (`bridge_devices`): convention, Matrix user, room, sensors, and the
 * topics that announced them, plus in-memory indexes by room, state topic and availability topic.
 * Merging follows one rule: announced information replaces what is known; inferred sensors (guessed
 * from a value) only fill gaps.
 */
import type { Database } from '../../storage/db.js';
import { tuple } from '../../storage/codec.js';
import type { AvailabilityBinding, DeviceAnnouncement, DeviceDescription, SensorInfo, StateBinding } from '../adapters/model.js';

export interface BridgedDevice extends DeviceDescription {
  /** The device's Matrix user. */
  userId: string;
  roomId?: string;
  sensors: Record<string, SensorInfo>;
  /** Announcing topic -> the sensor keys it announced (Home Assistant deletes by topic). */
  sources: Record<string, string[]>;
  stateBindings: StateBinding[];
  availability?: { mode: 'all' | 'any' | 'latest'; bindings: AvailabilityBinding[] };
  online?: boolean;
  /** The MQTT login that speaks for the device (ownership.ts); absent until one has. */
  owner?: string;
}

/** A room shared by the devices of one area, written by the area's bridge user. */
export interface AreaRoom {
  roomId: string;
  userId: string;
}

/**
 * Area rooms share the key space with devices: device keys never contain `:` (see adapters'
 * `deviceKey`), so `area:<name>` cannot collide with one.
 */
const AREA_PREFIX = 'area:';

export class DeviceRegistry {
  private readonly devices = new Map<string, BridgedDevice>();
  private readonly areas = new Map<string, AreaRoom>();
  private readonly byRoom = new Map<string, Set<string>>();
  private readonly stateTopics = new Map<string, StateBinding[]>();
  private readonly availabilityTopics = new Map<string, AvailabilityBinding[]>();
  /** Announced command topics -> the devices with a sensor commanded there. */
  private readonly commandTopics = new Map<string, Set<string>>();

  /**
   * `maxSensors`: sensors a device may have (`bridge.max_sensors_per_device`); announced sensors
   * beyond it are not added, and `onOverflow` hears which (the bridge logs it once per device).
   */
  constructor(
    private readonly db: Database,
    private readonly maxSensors = Infinity,
    private readonly onOverflow: (d: BridgedDevice, ignored: string[]) => void = () => undefined,
  ) {}

  /** Whether device `d` may have one more sensor. */
  hasRoomForSensor(d: BridgedDevice, extra = 0): boolean {
    return Object.keys(d.sensors).length + extra < this.maxSensors;
  }

  async load(): Promise<void> {
    for await (const [k, v] of this.db.space('bridgeDevices').iterator()) {
      const key = Buffer.from(k).subarray(0, k.length - 1).toString('utf8');
      const value: unknown = JSON.parse(Buffer.from(v).toString('utf8'));
      if (key.startsWith(AREA_PREFIX)) {
        this.areas.set(key.slice(AREA_PREFIX.length), value as AreaRoom);
        continue;
      }
      const d = value as BridgedDevice;
      this.devices.set(d.key, d);
      this.index(d);
    }
  }

  areaRoom(area: string): AreaRoom | undefined {
    return this.areas.get(area);
  }

  async saveAreaRoom(area: string, room: AreaRoom): Promise<void> {
    this.areas.set(area, room);
    await this.db.write([this.db.putJson('bridgeDevices', tuple(AREA_PREFIX + area), room)]);
  }

  get(key: string): BridgedDevice | undefined {
    return this.devices.get(key);
  }

  all(): BridgedDevice[] {
    return [...this.devices.values()];
  }

  inRoom(roomId: string): BridgedDevice[] {
    return [...(this.byRoom.get(roomId) ?? [])].flatMap((k) => this.devices.get(k) ?? []);
  }

  stateBindings(topic: string): StateBinding[] | undefined {
    return this.stateTopics.get(topic);
  }

  availabilityBindings(topic: string): AvailabilityBinding[] | undefined {
    return this.availabilityTopics.get(topic);
  }

  /** The devices with a sensor whose announced command topic is `topic`. */
  commandedOn(topic: string): BridgedDevice[] {
    return [...(this.commandTopics.get(topic) ?? [])].flatMap((k) => this.devices.get(k) ?? []);
  }

  /** The devices `owner` speaks for. */
  ownedBy(owner: string): BridgedDevice[] {
    return [...this.devices.values()].filter((d) => d.owner === owner);
  }

  /** The device whose sensors `sourceTopic` announced. */
  bySource(sourceTopic: string): BridgedDevice | undefined {
    for (const d of this.devices.values()) if (d.sources[sourceTopic]) return d;
    return undefined;
  }

  /** A new device record from its first announcement (not yet saved). */
  create(a: DeviceAnnouncement, userId: string): BridgedDevice {
    const d: BridgedDevice = { key: a.key, convention: a.convention, name: a.name, userId, sensors: {}, sources: {}, stateBindings: [] };
    this.merge(d, a);
    return d;
  }

  /**
   * Whether merging `a` into `d` would leave the record as it is: the announcement only infers
   * sensors the device already has, and binds no topics (see `merge`: known inferred sensors are
   * skipped, and an inferred-only announcement keeps the name, details and sources). Every
   * Zigbee2MQTT and Tasmota state message announces its properties this way, so this cheap test
   * spares the bridge serialising the device record twice per reading.
   */
  mergeChangesNothing(d: BridgedDevice, a: DeviceAnnouncement): boolean {
    if (a.stateBindings || a.availability || a.sensors.length === 0) return false;
    // A device at its sensor cap gains none: unknown keys change nothing either.
    const full = !this.hasRoomForSensor(d);
    return a.sensors.every((s) => s.inferred && (full || d.sensors[s.key] !== undefined));
  }

  /** Merges an announcement into a device; returns whether anything a room shows changed. */
  merge(d: BridgedDevice, a: DeviceAnnouncement): boolean {
    const before = JSON.stringify([d.name, d.model, d.manufacturer, d.swVersion, d.area, d.sensors]);
    const inferredOnly = a.sensors.length > 0 && a.sensors.every((s) => s.inferred);
    if (!inferredOnly) {
      d.name = a.name;
      if (a.model) d.model = a.model;
      if (a.manufacturer) d.manufacturer = a.manufacturer;
      if (a.swVersion) d.swVersion = a.swVersion;
      if (a.area) d.area = a.area;
    }
    let ignored: string[] | undefined;
    for (const s of a.sensors) {
      const known = d.sensors[s.key];
      if (s.inferred && known) continue;
      if (!known && !this.hasRoomForSensor(d)) {
        (ignored ??= []).push(s.key);
        continue;
      }
      d.sensors[s.key] = s;
    }
    if (ignored) this.onOverflow(d, ignored);
    if (!inferredOnly) {
      d.sources[a.sourceTopic] = [...new Set([...(d.sources[a.sourceTopic] ?? []), ...a.sensors.filter((s) => d.sensors[s.key]).map((s) => s.key)])];
    }
    if (a.stateBindings) {
      const announcedKeys = new Set(a.stateBindings.map((b) => b.sensor));
      const kept = a.stateBindings.filter((b) => d.sensors[b.sensor]);
      d.stateBindings = [...d.stateBindings.filter((b) => !announcedKeys.has(b.sensor)), ...kept];
    }
    if (a.availability) d.availability = a.availability;
    return before !== JSON.stringify([d.name, d.model, d.manufacturer, d.swVersion, d.area, d.sensors]);
  }

  /** Removes what `sourceTopic` announced (Home Assistant empty config payload); returns whether anything went. */
  retract(d: BridgedDevice, sourceTopic: string): boolean {
    const keys = d.sources[sourceTopic];
    if (!keys) return false;
    delete d.sources[sourceTopic];
    const stillAnnounced = new Set(Object.values(d.sources).flat());
    for (const k of keys) {
      if (!stillAnnounced.has(k)) delete d.sensors[k];
    }
    d.stateBindings = d.stateBindings.filter((b) => d.sensors[b.sensor]);
    return true;
  }

  /** Persists a device and refreshes the indexes. */
  async save(d: BridgedDevice): Promise<void> {
    this.unindex(d.key);
    this.devices.set(d.key, d);
    this.index(d);
    await this.db.write([this.db.putJson('bridgeDevices', tuple(d.key), d)]);
  }

  private index(d: BridgedDevice): void {
    if (d.roomId) {
      let set = this.byRoom.get(d.roomId);
      if (!set) this.byRoom.set(d.roomId, (set = new Set()));
      set.add(d.key);
    }
    for (const b of d.stateBindings) push(this.stateTopics, b.topic, b);
    for (const b of d.availability?.bindings ?? []) push(this.availabilityTopics, b.topic, b);
    for (const sensor of Object.values(d.sensors)) {
      if (!sensor.command) continue;
      let keys = this.commandTopics.get(sensor.command.topic);
      if (!keys) this.commandTopics.set(sensor.command.topic, (keys = new Set()));
      keys.add(d.key);
    }
  }

  private unindex(key: string): void {
    for (const set of this.byRoom.values()) set.delete(key);
    for (const [topic, keys] of this.commandTopics) {
      if (keys.delete(key) && keys.size === 0) this.commandTopics.delete(topic);
    }
    for (const map of [this.stateTopics, this.availabilityTopics] as Map<string, { deviceKey: string }[]>[]) {
      for (const [topic, list] of map) {
        const rest = list.filter((b) => b.deviceKey !== key);
        if (rest.length > 0) map.set(topic, rest);
        else map.delete(topic);
      }
    }
  }
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
