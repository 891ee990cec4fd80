/**
 * Commands from people to devices:
 *   1. an `org.hearth.command` event `{ sensor, value }` or a message `!set <sensor> <value>` arrives
 *      in a device room (area rooms name the sensor `<device>/<sensor>`);
 *   2. it is handled once per event id (the listener may see an event twice; MQTT QoS 1 may
 *      duplicate the publish, so we never add a second one);
 *   3. the sender needs the power level the room requires for `org.hearth.command`;
 *   4. the sensor must exist, be settable, and the value must fit its kind;
 *   5. the value is published on the sensor's command topic in its convention, QoS 1, never
 *      retained [MQTT-3.3.1-5] (a retained command would replay on every reconnect);
 *   6. the device's next report of that sensor with the requested value (or an explicit result such
 *      as Tasmota's `stat/<t>/RESULT`) settles it as `org.hearth.command.result` + `m.notice`;
 *      otherwise the timeout does. Refusals are answered with an `m.notice` saying why.
 */
import type { MqttTransport } from '../transport.js';
import { commandValue, encodeCommand } from '../adapters/command.js';
import type { SensorInfo, SensorValue } from '../adapters/model.js';
import { COMMAND_POWER_LEVEL, EventType, eventValue } from './event-types.js';
import type { BridgedDevice, DeviceRegistry } from './registry.js';
import type { DeviceRooms } from './rooms.js';
import type { BridgeLogger, BridgeRoomPort, PersistedEvent } from './room-port.js';

export interface CommandStats {
  commandsPublished: number;
  commandsRefused: number;
}

interface PendingCommand {
  eventId: string;
  device: BridgedDevice;
  sensor: string;
  value: SensorValue;
  timer: NodeJS.Timeout;
}

interface CommandRequest {
  target: string;
  value: unknown;
}

/** How many handled event ids are remembered for idempotency. */
const HANDLED_MEMORY = 4096;

export class CommandHandler {
  private readonly handled = new Set<string>();
  private readonly pending = new Map<string, PendingCommand[]>();

  constructor(
    private readonly rooms: BridgeRoomPort,
    private readonly deviceRooms: DeviceRooms,
    private readonly registry: DeviceRegistry,
    private readonly transport: Pick<MqttTransport, 'publish'>,
    private readonly timeoutSeconds: number,
    private readonly logger: BridgeLogger,
    private readonly stats: CommandStats,
  ) {}

  /** The room engine's event listener. Never throws: failures are logged. */
  readonly onEvent = (ev: PersistedEvent): void => {
    const request = parseRequest(ev);
    if (!request || this.registry.inRoom(ev.room_id).length === 0) return;
    if (this.handled.has(ev.event_id)) return;
    this.remember(ev.event_id);
    this.handle(ev, request).catch((err) => this.logger.warn({ err, eventId: ev.event_id }, 'command handling failed'));
  };

  /** A device reported `value` for `sensor`: settles the commands that asked for it. */
  observe(deviceKey: string, sensor: string, value: SensorValue): void {
    // Every reading passes here and almost never with a command pending: no key to build then.
    if (this.pending.size === 0) return;
    const key = `${deviceKey}/${sensor}`;
    const list = this.pending.get(key);
    if (!list) return;
    const settled = list.filter((p) => p.value === value);
    if (settled.length === 0) return;
    const rest = list.filter((p) => p.value !== value);
    if (rest.length > 0) this.pending.set(key, rest);
    else this.pending.delete(key);
    for (const p of settled) {
      clearTimeout(p.timer);
      void this.report(p, 'ok', `${p.sensor} is now ${String(value)}`).catch((err) => this.logger.warn({ err }, 'command result failed'));
    }
  }

  stop(): void {
    for (const list of this.pending.values()) for (const p of list) clearTimeout(p.timer);
    this.pending.clear();
  }

  private async handle(ev: PersistedEvent, request: CommandRequest): Promise<void> {
    const devices = this.registry.inRoom(ev.room_id);
    const { device, sensorKey } = resolveTarget(devices, request.target);
    const notifyVia = device ?? devices[0]!;

    const required = await this.requiredPowerLevel(ev.room_id);
    const level = await this.rooms.getUserPowerLevel(ev.room_id, ev.pdu.sender);
    if (level < required) {
      return this.refuse(notifyVia, `Refused: commands need power level ${required}, ${ev.pdu.sender} has ${level}.`);
    }
    const sensor: SensorInfo | undefined = device?.sensors[sensorKey];
    if (!device || !sensor) {
      const known = devices.flatMap((d) => Object.values(d.sensors).filter((s) => s.command).map((s) => this.deviceRooms.sensorStateKey(d, s.key)));
      return this.refuse(notifyVia, `Refused: unknown sensor "${request.target}". Settable: ${known.join(', ') || 'none'}.`);
    }
    if (!sensor.command) return this.refuse(device, `Refused: "${sensorKey}" is read-only.`);
    const value = commandValue(sensor, request.value);
    if (value === undefined) return this.refuse(device, `Refused: ${JSON.stringify(request.value)} is not a valid ${sensor.kind} for "${sensorKey}".`);

    // Pending before the publish: a device (or a Zigbee2MQTT daemon on the same box) can answer
    // before the broker's PUBACK of our publish arrives, and that answer must settle the command.
    const pending: PendingCommand = { eventId: ev.event_id, device, sensor: sensorKey, value, timer: setTimeout(() => this.expire(pending), this.timeoutSeconds * 1000) };
    pending.timer.unref();
    const key = `${device.key}/${sensorKey}`;
    this.pending.set(key, [...(this.pending.get(key) ?? []), pending]);
    try {
      await this.transport.publish(sensor.command.topic, encodeCommand(sensor.command, value), { qos: 1, retain: false });
    } catch (err) {
      this.logger.warn({ err, topic: sensor.command.topic }, 'command publish failed');
      clearTimeout(pending.timer);
      // Unless the device already reported the value (observe settled it): then it stays 'ok'.
      if (!this.forget(pending)) return;
      return this.report(pending, 'failed', `Could not publish the command for ${sensorKey}.`);
    }
    this.stats.commandsPublished++;
  }

  /** Removes a pending command; false when it was no longer pending. */
  private forget(p: PendingCommand): boolean {
    const key = `${p.device.key}/${p.sensor}`;
    const list = this.pending.get(key) ?? [];
    const rest = list.filter((x) => x !== p);
    if (rest.length > 0) this.pending.set(key, rest);
    else this.pending.delete(key);
    return rest.length < list.length;
  }

  private expire(p: PendingCommand): void {
    this.forget(p);
    void this.report(p, 'timeout', `No answer from ${p.device.name} for ${p.sensor} within ${this.timeoutSeconds} s.`).catch((err) =>
      this.logger.warn({ err }, 'command timeout report failed'),
    );
  }

  private async report(p: Pick<PendingCommand, 'eventId' | 'device' | 'sensor' | 'value'>, status: 'ok' | 'timeout' | 'failed', text: string): Promise<void> {
    const relates = { 'm.relates_to': { rel_type: 'm.reference', event_id: p.eventId } };
    await this.deviceRooms.sendFromDevice(p.device, EventType.CommandResult, { ...relates, sensor: p.sensor, value: eventValue(p.value), status });
    await this.deviceRooms.sendFromDevice(p.device, 'm.room.message', { ...relates, msgtype: 'm.notice', body: text });
  }

  private async refuse(device: BridgedDevice, body: string): Promise<void> {
    this.stats.commandsRefused++;
    await this.deviceRooms.sendFromDevice(device, 'm.room.message', { msgtype: 'm.notice', body });
  }

  /** The room's `events["org.hearth.command"]` power level (client-server-api "m.room.power_levels"). */
  async requiredPowerLevel(roomId: string): Promise<number> {
    const pl = await this.rooms.getStateEvent(roomId, 'm.room.power_levels', '');
    const content = (pl?.pdu.content ?? {}) as { events?: Record<string, unknown>; events_default?: unknown };
    const level = content.events?.[EventType.Command];
    return typeof level === 'number' ? level : COMMAND_POWER_LEVEL;
  }

  private remember(eventId: string): void {
    this.handled.add(eventId);
    if (this.handled.size > HANDLED_MEMORY) this.handled.delete(this.handled.values().next().value!);
  }
}

/** `org.hearth.command { sensor, value }`, or an `m.text` message `!set <sensor> <value>`. */
function parseRequest(ev: PersistedEvent): CommandRequest | undefined {
  const c = ev.pdu.content as Record<string, unknown>;
  if (ev.pdu.type === EventType.Command && typeof c.sensor === 'string' && 'value' in c) {
    return { target: typeof c.device === 'string' ? `${c.device}/${c.sensor}` : c.sensor, value: c.value };
  }
  if (ev.pdu.type === 'm.room.message' && c.msgtype === 'm.text' && typeof c.body === 'string') {
    const m = /^!set\s+(\S+)\s+(.+?)\s*$/.exec(c.body);
    if (m) return { target: m[1]!, value: m[2]! };
  }
  return undefined;
}

/** A device room's one device, or in an area room the `<device>/<sensor>` the target names. */
function resolveTarget(devices: BridgedDevice[], target: string): { device?: BridgedDevice; sensorKey: string } {
  const slash = target.indexOf('/');
  if (slash > 0) {
    const device = devices.find((d) => d.key === target.slice(0, slash));
    if (device) return { device, sensorKey: target.slice(slash + 1) };
  }
  if (devices.length === 1) return { device: devices[0]!, sensorKey: target };
  const owner = devices.find((d) => d.sensors[target]);
  return owner ? { device: owner, sensorKey: target } : { sensorKey: target };
}
