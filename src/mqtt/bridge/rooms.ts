/**
 * The Matrix side of a device: its room and the state events that describe it.
 * - One room per device (or per area when `bridge.roomPer` is `area` and the device names one),
 *   created by the device's Matrix user (area rooms: by the area's bridge user), non-federating
 *   unless configured (`m.federate`, client-server-api "Creation").
 * - Power levels: the creator at 100; owners at 50, which is what `org.hearth.command` requires;
 *   every state event needs 100, so only the device user writes metadata and values.
 * - State keys: in a device room `''` for the device and availability, the sensor key for a sensor;
 *   in an area room the device key and `<device>/<sensor>` (several devices share the room).
 */
import type { SensorValue } from '../adapters/model.js';
import { slugify } from '../adapters/model.js';
import { COMMAND_POWER_LEVEL, EventType, availabilityContent, deviceContent, sensorContent } from './event-types.js';
import type { BridgedDevice, DeviceRegistry } from './registry.js';
import type { BridgeIdentityPort, BridgeRoomPort } from './room-port.js';

export interface DeviceRoomsOptions {
  roomPer: 'device' | 'area';
  federate: boolean;
  /** Per-device override of `federate` (device key -> boolean). */
  federateDevices?: Record<string, boolean>;
}

export class DeviceRooms {
  /** Area rooms being created, so two devices of one area do not create two rooms. */
  private readonly areaRooms = new Map<string, Promise<string>>();

  constructor(
    private readonly rooms: BridgeRoomPort,
    private readonly identity: BridgeIdentityPort,
    private readonly registry: DeviceRegistry,
    private readonly opts: DeviceRoomsOptions,
  ) {}

  /** The device's room, created with its metadata as initial state when it has none yet. */
  async ensureRoom(d: BridgedDevice): Promise<string> {
    if (d.roomId) return d.roomId;
    const area = this.opts.roomPer === 'area' && d.area ? d.area : undefined;
    if (area) {
      d.roomId = await this.areaRoom(area, d);
      await this.registry.save(d);
      // The area room already exists: this device's metadata arrives as an ordinary state event.
      await this.sendDevice(d);
      return d.roomId;
    }
    const owners = await this.identity.owners();
    const { roomId } = await this.rooms.createRoom({
      creator: d.userId,
      name: d.name,
      topic: describe(d),
      invite: owners,
      preset: 'private_chat',
      creationContent: { 'm.federate': this.federates(d.key) },
      powerLevelContentOverride: powerLevels(d.userId, owners),
      initialState: [
        { type: EventType.Device, state_key: '', content: deviceContent(d) },
        ...(d.online !== undefined ? [{ type: EventType.Availability, state_key: '', content: availabilityContent(d.online, Date.now()) }] : []),
      ],
    });
    d.roomId = roomId;
    await this.registry.save(d);
    return roomId;
  }

  async sendDevice(d: BridgedDevice): Promise<void> {
    const roomId = await this.ensureRoom(d);
    await this.rooms.sendEvent(roomId, { type: EventType.Device, sender: this.senderOf(d), state_key: this.deviceStateKey(d), content: deviceContent(d) });
  }

  async sendAvailability(d: BridgedDevice, online: boolean, ts: number): Promise<void> {
    const roomId = await this.ensureRoom(d);
    await this.rooms.sendEvent(roomId, { type: EventType.Availability, sender: this.senderOf(d), state_key: this.deviceStateKey(d), content: availabilityContent(online, ts) });
  }

  async sendSensor(d: BridgedDevice, sensor: string, value: SensorValue, ts: number): Promise<void> {
    const roomId = await this.ensureRoom(d);
    await this.rooms.sendEvent(roomId, {
      type: EventType.Sensor,
      sender: this.senderOf(d),
      state_key: this.sensorStateKey(d, sensor),
      content: sensorContent(d.sensors[sensor], sensor, value, ts),
    });
  }

  /** A timeline event from the device (command results, notices). */
  async sendFromDevice(d: BridgedDevice, type: string, content: object): Promise<string> {
    const roomId = await this.ensureRoom(d);
    return (await this.rooms.sendEvent(roomId, { type, sender: this.senderOf(d), content })).eventId;
  }

  isAreaRoom(d: BridgedDevice): boolean {
    return this.opts.roomPer === 'area' && d.area !== undefined;
  }

  deviceStateKey(d: BridgedDevice): string {
    return this.isAreaRoom(d) ? d.key : '';
  }

  sensorStateKey(d: BridgedDevice, sensor: string): string {
    return this.isAreaRoom(d) ? `${d.key}/${sensor}` : sensor;
  }

  /** Area rooms are written by the area's user (it created the room); device rooms by the device. */
  private senderOf(d: BridgedDevice): string {
    return (this.isAreaRoom(d) && this.registry.areaRoom(d.area!)?.userId) || d.userId;
  }

  private async areaRoom(area: string, first: BridgedDevice): Promise<string> {
    const existing = this.registry.areaRoom(area);
    if (existing) return existing.roomId;
    let pending = this.areaRooms.get(area);
    if (!pending) {
      pending = (async () => {
        const userId = await this.identity.ensureDeviceUser(`area.${slugify(area)}`);
        const owners = await this.identity.owners();
        const { roomId } = await this.rooms.createRoom({
          creator: userId,
          name: area,
          topic: `Devices in ${area}`,
          invite: owners,
          preset: 'private_chat',
          creationContent: { 'm.federate': this.federates(first.key) },
          powerLevelContentOverride: powerLevels(userId, owners),
        });
        await this.registry.saveAreaRoom(area, { roomId, userId });
        return roomId;
      })();
      this.areaRooms.set(area, pending);
      pending.catch(() => this.areaRooms.delete(area));
    }
    return pending;
  }

  private federates(deviceKey: string): boolean {
    return this.opts.federateDevices?.[deviceKey] ?? this.opts.federate;
  }
}

function describe(d: BridgedDevice): string {
  const what = [d.manufacturer, d.model].filter(Boolean).join(' ');
  return what ? `${what} (${d.convention})` : `${d.convention} device ${d.key}`;
}

/** client-server-api "m.room.power_levels": the override is merged over the preset's defaults. */
function powerLevels(creator: string, owners: string[]): object {
  const users: Record<string, number> = {};
  for (const o of owners) users[o] = COMMAND_POWER_LEVEL;
  users[creator] = 100;
  return {
    users,
    users_default: 0,
    events_default: 0,
    state_default: 100,
    invite: COMMAND_POWER_LEVEL,
    events: {
      [EventType.Command]: COMMAND_POWER_LEVEL,
      [EventType.CommandResult]: 100,
      [EventType.Device]: 100,
      [EventType.Availability]: 100,
      [EventType.Sensor]: 100,
      'm.room.power_levels': 100,
    },
  };
}
