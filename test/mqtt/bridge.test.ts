import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from '../../src/storage/db.js';
import { defaultConfig, type HearthConfig } from '../../src/config/config.js';
import { MqttBridge } from '../../src/mqtt/bridge/bridge.js';
import type { BridgeRoomPort, CreateRoomRequest, EventDraft, PersistedEvent } from '../../src/mqtt/bridge/room-port.js';
import type { InboundMessage } from '../../src/mqtt/transport.js';
import type { TelemetryReading } from '../../src/telemetry/store.js';
import { canonicalJson } from '../../src/core/canonical-json.js';

const OWNER = '@alice:test';
const STRANGER = '@mallory:test';

/** A room engine stand-in: records rooms and events, answers power levels from the created rooms. */
class FakeRooms implements BridgeRoomPort {
  created: (CreateRoomRequest & { roomId: string })[] = [];
  events: (EventDraft & { roomId: string; eventId: string })[] = [];
  private listeners: ((ev: PersistedEvent) => void)[] = [];
  private powerLevels = new Map<string, { users: Record<string, number>; events: Record<string, number> }>();

  async createRoom(req: CreateRoomRequest) {
    const roomId = `!room${this.created.length + 1}:test`;
    this.created.push({ ...req, roomId });
    this.powerLevels.set(roomId, req.powerLevelContentOverride as { users: Record<string, number>; events: Record<string, number> });
    return { roomId };
  }
  async sendEvent(roomId: string, draft: EventDraft) {
    // The engine hashes content as canonical JSON and refuses what it cannot encode (floats).
    canonicalJson(draft.content);
    const eventId = `$e${this.events.length + 1}`;
    this.events.push({ ...draft, roomId, eventId });
    return { eventId };
  }
  async getStateEvent(roomId: string, type: string) {
    const pl = this.powerLevels.get(roomId);
    return type === 'm.room.power_levels' && pl ? { event_id: '$pl', pdu: { sender: '@x:test', content: pl } } : undefined;
  }
  onEvent(listener: (ev: PersistedEvent) => void) {
    this.listeners.push(listener);
    return () => (this.listeners = this.listeners.filter((l) => l !== listener));
  }
  async getUserPowerLevel(roomId: string, userId: string) {
    return this.powerLevels.get(roomId)?.users[userId] ?? 0;
  }
  /** A person's event, as the engine would announce it after persisting. */
  emit(roomId: string, sender: string, type: string, content: object, eventId = `$p${Math.random()}`) {
    for (const l of this.listeners) l({ event_id: eventId, room_id: roomId, pdu: { type, sender, content } });
    return eventId;
  }
  ofType(type: string) {
    return this.events.filter((e) => e.type === type);
  }
  notices() {
    return this.events.filter((e) => e.type === 'm.room.message').map((e) => (e.content as { body: string }).body);
  }
}

async function setup(t: { teardown(fn: () => void): void }, bridgeConfig: Partial<HearthConfig['bridge']> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-bridge-'));
  const db = await Database.open(dir, { cacheSizeBytes: 1 << 20, writeBufferSizeBytes: 1 << 20 });
  const rooms = new FakeRooms();
  const published: { topic: string; payload: string; opts: { qos: number; retain: boolean } }[] = [];
  const recorded: TelemetryReading[] = [];
  const clock = { now: 1_700_000_000_000 };
  const config = { ...defaultConfig(dir).bridge, ...bridgeConfig };
  const logs: string[] = [];
  const bridge = new MqttBridge({
    db,
    rooms,
    identity: { ensureDeviceUser: async (key) => `@${key}:test`, owners: async () => [OWNER] },
    transport: { publish: async (topic, payload, opts) => void published.push({ topic, payload: String(payload), opts }) },
    telemetry: { record: async (r) => void recorded.push(r) },
    config,
    logger: { debug: (_o, m) => logs.push(m), warn: (o, m) => logs.push(`${m} ${String((o as { err?: unknown }).err)}`) },
    now: () => clock.now,
  });
  await bridge.start();
  t.teardown(async () => {
    await bridge.stop();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const send = async (topic: string, payload: string | Buffer) => {
    const msg: InboundMessage = { topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos: 1, retain: false, clientId: 'dev' };
    await bridge.handleInbound(msg);
    await bridge.idle();
  };
  return { bridge, rooms, published, recorded, clock, send, logs };
}

const gardenDiscovery = JSON.stringify({
  '~': 'garden',
  name: 'Temperature',
  stat_t: '~/state',
  unit_of_meas: '°C',
  dev_cla: 'temperature',
  val_tpl: '{{ value_json.temperature }}',
  avty_t: '~/status',
  dev: { ids: 'garden01', name: 'Garden sensor', mf: 'Acme', mdl: 'T1000' },
});

test('HA discovery + state: a room by the device user, owners invited, throttled sensor state', async (t) => {
  const { rooms, recorded, send, clock } = await setup(t);
  await send('homeassistant/sensor/garden/temperature/config', gardenDiscovery);
  t.is(rooms.created.length, 1);
  const room = rooms.created[0]!;
  t.like(room, { creator: '@ha.garden01:test', name: 'Garden sensor', invite: [OWNER], preset: 'private_chat', creationContent: { 'm.federate': false } });
  t.like(room.powerLevelContentOverride as object, { users: { [OWNER]: 50, '@ha.garden01:test': 100 }, state_default: 100, events: { 'org.hearth.command': 50 } });
  t.deepEqual(room.initialState, [
    {
      type: 'org.hearth.device',
      state_key: '',
      content: { key: 'ha.garden01', convention: 'homeassistant', name: 'Garden sensor', model: 'T1000', manufacturer: 'Acme', sensors: { temperature: { name: 'Temperature', kind: 'number', unit: '°C', device_class: 'temperature', settable: false } } },
    },
  ]);

  await send('garden/state', '{"temperature": 21.5}');
  t.deepEqual(recorded, [{ stream: 'ha.garden01/temperature', ts: clock.now, value: 21.5 }]);
  const sensor = rooms.ofType('org.hearth.sensor');
  t.is(sensor.length, 1);
  t.like(sensor[0]!, { roomId: '!room1:test', sender: '@ha.garden01:test', state_key: 'temperature', content: { sensor: 'temperature', value: '21.5', ts: clock.now, unit: '°C', device_class: 'temperature' } });

  // Same value a second later: recorded, but no new state event (throttle).
  clock.now += 1000;
  await send('garden/state', '{"temperature": 21.5}');
  t.is(recorded.length, 2);
  t.is(rooms.ofType('org.hearth.sensor').length, 1);

  await send('garden/status', 'offline');
  t.like(rooms.ofType('org.hearth.availability')[0]!, { state_key: '', content: { online: false } });

  // An empty config payload deletes the entity: the device event loses the sensor.
  await send('homeassistant/sensor/garden/temperature/config', '');
  const device = rooms.ofType('org.hearth.device').at(-1)!;
  t.deepEqual((device.content as { sensors: object }).sensors, {});
});

test('availability reported before the announcement (Tasmota LWT at connect) is in the new room', async (t) => {
  const { rooms, send } = await setup(t);
  await send('tele/plug/LWT', 'Online');
  t.is(rooms.created.length, 0, 'no room for an availability alone');
  await send('tele/plug/STATE', '{"POWER":"OFF"}');
  t.is(rooms.created.length, 1);
  t.like(rooms.created[0]!.initialState!.find((e) => e.type === 'org.hearth.availability')!, { state_key: '', content: { online: true } });
});

test('HA discovery, availability and state handled concurrently (one pipelined burst): none is lost', async (t) => {
  const { bridge, rooms, recorded } = await setup(t);
  const msg = (topic: string, payload: string): InboundMessage => ({ topic, payload: Buffer.from(payload), qos: 1, retain: false, clientId: 'garden' });
  await Promise.all([
    bridge.handleInbound(msg('homeassistant/sensor/garden/temperature/config', gardenDiscovery)),
    bridge.handleInbound(msg('garden/status', 'online')),
    bridge.handleInbound(msg('garden/state', '{"temperature": 20}')),
  ]);
  await bridge.idle();
  t.deepEqual(recorded.map((r) => r.value), [20]);
  t.like(rooms.ofType('org.hearth.availability').at(-1)!, { content: { online: true } });
});

test('a changed value inside the minimum interval is deferred, then sent', async (t) => {
  const { rooms, send, clock } = await setup(t, { throttle: { deadband: 0, minIntervalSeconds: 0.05, discreteMinIntervalSeconds: 0.05, refreshSeconds: 300 } });
  await send('tele/plug/SENSOR', JSON.stringify({ ENERGY: { Power: 10 } }));
  await send('tele/plug/SENSOR', JSON.stringify({ ENERGY: { Power: 12 } }));
  t.deepEqual(rooms.ofType('org.hearth.sensor').map((e) => (e.content as { value: number }).value), [10]);
  await new Promise((r) => setTimeout(r, 80));
  clock.now += 80;
  t.deepEqual(rooms.ofType('org.hearth.sensor').map((e) => (e.content as { value: number }).value), [10, 12]);
});

test('command event -> publish on the HA command topic, the reply becomes a result', async (t) => {
  const { rooms, published, send } = await setup(t);
  await send(
    'homeassistant/switch/irrigation/valve/config',
    JSON.stringify({ name: 'Valve', cmd_t: 'irrigation/valve/set', stat_t: 'irrigation/valve/state', pl_on: 'OPEN', pl_off: 'CLOSE' }),
  );
  const roomId = rooms.created[0]!.roomId;
  const eventId = rooms.emit(roomId, OWNER, 'org.hearth.command', { sensor: 'valve', value: true }, '$cmd1');
  rooms.emit(roomId, OWNER, 'org.hearth.command', { sensor: 'valve', value: true }, '$cmd1');
  await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(published, [{ topic: 'irrigation/valve/set', payload: 'OPEN', opts: { qos: 1, retain: false } }], 'once per event id, never retained');

  await send('irrigation/valve/state', 'OPEN');
  await new Promise((r) => setTimeout(r, 20));
  const result = rooms.ofType('org.hearth.command.result');
  t.is(result.length, 1);
  t.deepEqual(result[0]!.content, { 'm.relates_to': { rel_type: 'm.reference', event_id: eventId }, sensor: 'valve', value: true, status: 'ok' });
  t.regex(rooms.notices().at(-1)!, /valve is now true/);
});

test('!set from a person -> Zigbee2MQTT /set JSON; Tasmota RESULT settles a POWER command', async (t) => {
  const { rooms, published, send } = await setup(t);
  const devices = [{ friendly_name: 'lamp', type: 'Router', definition: { model: 'LED1545G12', vendor: 'IKEA', exposes: [{ type: 'light', features: [{ type: 'binary', name: 'state', property: 'state', access: 7, value_on: 'ON', value_off: 'OFF' }] }] } }];
  await send('zigbee2mqtt/bridge/devices', JSON.stringify(devices));
  rooms.emit(rooms.created[0]!.roomId, OWNER, 'm.room.message', { msgtype: 'm.text', body: '!set state on' });
  await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(published.at(-1), { topic: 'zigbee2mqtt/lamp/set', payload: '{"state":"ON"}', opts: { qos: 1, retain: false } });

  await send('tele/plug/STATE', JSON.stringify({ POWER: 'OFF' }));
  const plugRoom = rooms.created[1]!.roomId;
  rooms.emit(plugRoom, OWNER, 'm.room.message', { msgtype: 'm.text', body: '!set power ON' });
  await new Promise((r) => setTimeout(r, 20));
  t.deepEqual(published.at(-1), { topic: 'cmnd/plug/POWER', payload: 'ON', opts: { qos: 1, retain: false } });
  await send('stat/plug/RESULT', '{"POWER":"ON"}');
  await new Promise((r) => setTimeout(r, 20));
  t.like(rooms.ofType('org.hearth.command.result').at(-1)!, { roomId: plugRoom, content: { sensor: 'power', value: true, status: 'ok' } });
});

test('Homie settable property and a timeout reported back', async (t) => {
  const { rooms, published, send } = await setup(t, { commandTimeoutSeconds: 0.05 });
  await send('homie/5/heater/$description', JSON.stringify({ homie: '5.0', version: 1, nodes: { main: { properties: { target: { datatype: 'float', settable: true, unit: '°C' } } } } }));
  rooms.emit(rooms.created[0]!.roomId, OWNER, 'org.hearth.command', { sensor: 'main.target', value: 21.5 });
  await new Promise((r) => setTimeout(r, 120));
  t.deepEqual(published, [{ topic: 'homie/5/heater/main/target/set', payload: '21.5', opts: { qos: 1, retain: false } }]);
  t.like(rooms.ofType('org.hearth.command.result')[0]!, { content: { sensor: 'main.target', status: 'timeout' } });
  t.regex(rooms.notices()[0]!, /No answer/);
});

test('refused commands get a notice saying why, and nothing is published', async (t) => {
  const { rooms, published, send } = await setup(t);
  await send('homeassistant/sensor/garden/temperature/config', gardenDiscovery);
  await send('homeassistant/switch/garden/pump/config', JSON.stringify({ name: 'Pump', cmd_t: 'garden/pump/set', dev: { ids: 'garden01' } }));
  const roomId = rooms.created[0]!.roomId;
  rooms.emit(roomId, STRANGER, 'org.hearth.command', { sensor: 'pump', value: 'on' });
  rooms.emit(roomId, OWNER, 'm.room.message', { msgtype: 'm.text', body: '!set nosuch 1' });
  rooms.emit(roomId, OWNER, 'org.hearth.command', { sensor: 'temperature', value: 30 });
  rooms.emit(roomId, OWNER, 'org.hearth.command', { sensor: 'pump', value: 'sideways' });
  await new Promise((r) => setTimeout(r, 30));
  t.deepEqual(published, []);
  const notices = rooms.notices();
  t.is(notices.length, 4);
  t.true(notices.some((n) => /power level 50, @mallory:test has 0/.test(n)));
  t.true(notices.some((n) => /unknown sensor "nosuch". Settable: pump/.test(n)));
  t.true(notices.some((n) => /"temperature" is read-only/.test(n)));
  t.true(notices.some((n) => /not a valid boolean/.test(n)));
});

test('malformed payloads and unknown topics are counted, never thrown', async (t) => {
  const { bridge, send, rooms, recorded } = await setup(t);
  await send('zigbee2mqtt/lamp', '{"state": ');
  await send('tele/plug/SENSOR', Buffer.from([0xa2, 0x61]));
  await send('homeassistant/sensor/x/y/config', '[1,2]');
  await send('some/random/topic', '42');
  t.like(bridge.stats, { messages: 4, malformed: 3, unknownTopics: 1 });
  t.is(rooms.created.length, 0);
  t.is(recorded.length, 0);
});

test('CBOR payloads on a raw rule; per-area rooms share one room', async (t) => {
  const { rooms, recorded, send } = await setup(t, {
    roomPer: 'area',
    rawRules: [{ topic: 'sensors/+/temp', device: '$1', sensor: 'temperature', unit: '°C' }],
  });
  const { Encoder } = await import('cbor-x');
  await send('sensors/kitchen-sensor/temp', new Encoder({ useRecords: false }).encode(19.25));
  t.deepEqual(recorded.map((r) => [r.stream, r.value]), [['kitchen-sensor/temperature', 19.25]]);
  t.is(rooms.created[0]!.creator, '@kitchen-sensor:test');

  const withArea = (id: string) => JSON.stringify({ name: id, stat_t: `${id}/state`, dev: { ids: id, sa: 'Living room' } });
  await send('homeassistant/sensor/a/t/config', withArea('a'));
  await send('homeassistant/sensor/b/t/config', withArea('b'));
  const areaRooms = rooms.created.filter((r) => r.name === 'Living room');
  t.is(areaRooms.length, 1);
  t.is(areaRooms[0]!.creator, '@area.living_room:test');
  await send('a/state', '5');
  t.like(rooms.ofType('org.hearth.sensor').at(-1)!, { roomId: areaRooms[0]!.roomId, state_key: 'ha.a/t', sender: '@area.living_room:test' });
});
