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
  /** The owners invited at creation count as joined (the engine's membership, simplified). */
  async isJoined(userId: string, roomId: string) {
    const room = this.created.find((r) => r.roomId === roomId);
    return room !== undefined && (room.creator === userId || (room.invite ?? []).includes(userId));
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
  /** A message from MQTT login `publisher`: the bridge's refusal, or undefined once it is handled. */
  const sendAs = async (publisher: string, topic: string, payload: string) => {
    const msg: InboundMessage = { topic, payload: Buffer.from(payload), qos: 1, retain: false, clientId: publisher, publisher };
    const outcome = bridge.handleInbound(msg);
    if (!(outcome instanceof Promise)) return outcome;
    await outcome;
    await bridge.idle();
    return undefined;
  };
  return { bridge, rooms, published, recorded, clock, send, sendAs, logs };
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

// ---- device identity: a device belongs to the MQTT login that first spoke for it (ownership.ts)

const GARDEN = 'device:garden';
const INTRUDER = 'device:intruder';

test('a login announcing another login\'s device (copied HA identifiers) is refused; the owner\'s room, values and history are untouched', async (t) => {
  const { rooms, recorded, sendAs, bridge, logs } = await setup(t, { throttle: { minIntervalSeconds: 0, discreteMinIntervalSeconds: 0, refreshSeconds: 900, deadband: 0 } });
  t.is(await sendAs(GARDEN, 'homeassistant/sensor/garden/temperature/config', gardenDiscovery), undefined);
  t.is(await sendAs(GARDEN, 'garden/state', '{"temperature": 21.5}'), undefined);
  const eventsBefore = rooms.events.length;

  // The intruder copies the identifiers, renames the device and binds its own topic as the state topic.
  const forged = JSON.stringify({ name: 'Temperature', stat_t: 'intruder/state', unit_of_meas: '°C', dev: { ids: 'garden01', name: 'Hacked' } });
  t.deepEqual(await sendAs(INTRUDER, 'homeassistant/sensor/intruder/temperature/config', forged), { refused: 'the device belongs to another MQTT login' });
  t.is(await sendAs(INTRUDER, 'intruder/state', '{"temperature": 99}'), undefined);
  // Its availability and values on the owner's topics are refused too (a broker ACL would stop them first).
  t.deepEqual(await sendAs(INTRUDER, 'garden/state', '{"temperature": 98}'), undefined);
  t.is(await sendAs(GARDEN, 'garden/state', '{"temperature": 22}'), undefined);

  t.deepEqual(recorded.map((r) => [r.stream, r.value]), [['ha.garden01/temperature', 21.5], ['ha.garden01/temperature', 22]]);
  const after = rooms.events.slice(eventsBefore);
  t.deepEqual(after.map((e) => [e.type, (e.content as { value?: unknown }).value]), [['org.hearth.sensor', 22]], 'only the owner\'s new value reached the room');
  t.is(rooms.created.length, 1);
  t.is(rooms.created[0]!.name, 'Garden sensor');
  t.is(bridge.stats.foreignClaims, 1);
  t.true(logs.some((l) => l.startsWith('mqtt message for a device another login owns refused')));
});

test('first come first served: a new device claimed in one burst by two logins belongs to the first; Z2M coordinator and a direct device share nothing', async (t) => {
  const { rooms, recorded, bridge } = await setup(t);
  const msg = (publisher: string, topic: string, payload: string): InboundMessage => ({ topic, payload: Buffer.from(payload), qos: 1, retain: false, clientId: publisher, publisher });
  const first = bridge.handleInbound(msg('device:zigbee2mqtt', 'zigbee2mqtt/lamp', '{"state":"ON","brightness":10}'));
  const second = bridge.handleInbound(msg('device:lamp', 'zigbee2mqtt/lamp', '{"state":"OFF","brightness":99}'));
  t.true(first instanceof Promise);
  t.deepEqual(second, { refused: 'the device belongs to another MQTT login' });
  await first;
  await bridge.idle();
  t.deepEqual(recorded.map((r) => [r.stream, r.value]), [['z2m.lamp/state', 'ON'], ['z2m.lamp/brightness', 10]]);
  t.is(rooms.created.length, 1);

  // The coordinator's device list: the devices it owns are announced, one owned elsewhere is not.
  const desk = bridge.handleInbound(msg('device:lamp', 'zigbee2mqtt/desk', '{"temperature":20}'));
  t.true(desk instanceof Promise);
  await desk;
  await bridge.idle();
  const list = JSON.stringify([
    { friendly_name: 'lamp', definition: { model: 'L1', vendor: 'IKEA', exposes: [] } },
    { friendly_name: 'desk', definition: { model: 'D1', vendor: 'Acme', exposes: [] } },
  ]);
  const outcome = bridge.handleInbound(msg('device:zigbee2mqtt', 'zigbee2mqtt/bridge/devices', list));
  t.true(outcome instanceof Promise, 'partly its own: handled, the foreign part dropped');
  await outcome;
  await bridge.idle();
  const devices = rooms.ofType('org.hearth.device').map((e) => (e.content as { key: string; model?: string }));
  t.true(devices.some((d) => d.key === 'z2m.lamp' && d.model === 'L1'));
  t.false(devices.some((d) => d.key === 'z2m.desk' && d.model === 'D1'), 'the desk belongs to the lamp login');
  t.is(bridge.stats.foreignClaims, 2);
});

test('a device cannot bind another device\'s topics: its HA state topic on a foreign topic reads nothing, foreign command topics are dropped', async (t) => {
  const allowed: string[] = [];
  const { recorded, sendAs, bridge } = await setup(t);
  (bridge as unknown as { deps: { mayReceiveCommands: (p: string, topic: string) => boolean } }).deps.mayReceiveCommands = (publisher, topic) => {
    allowed.push(`${publisher} ${topic}`);
    return topic.startsWith(`${publisher.slice('device:'.length)}/`);
  };
  await sendAs(GARDEN, 'homeassistant/sensor/garden/temperature/config', gardenDiscovery);
  // The intruder's own device, reading the garden's state topic and commanding the garden's switch.
  await sendAs(
    INTRUDER,
    'homeassistant/switch/intruder/relay/config',
    JSON.stringify({ name: 'Relay', stat_t: 'garden/state', cmd_t: 'garden/relay/set', dev: { ids: 'intruder01', name: 'Intruder' } }),
  );
  await sendAs(GARDEN, 'garden/state', '{"temperature": 23}');
  t.deepEqual(recorded.map((r) => r.stream), ['ha.garden01/temperature'], 'nothing recorded for the intruder\'s device');
  t.deepEqual(allowed, ['device:intruder garden/relay/set']);
  t.false(await bridge.mayCommand(OWNER, 'garden/relay/set'), 'the dropped command topic commands nothing');
});

test('a Matrix user may publish a command over MQTT only on an announced command topic, joined with the power the room requires', async (t) => {
  const { bridge, rooms, sendAs } = await setup(t);
  await sendAs('device:lamp', 'zigbee2mqtt/bridge/devices', JSON.stringify([
    { friendly_name: 'lamp', definition: { exposes: [{ type: 'binary', property: 'state', access: 7, value_on: 'ON', value_off: 'OFF' }] } },
  ]));
  t.is(rooms.created.length, 1);
  t.true(await bridge.mayCommand(OWNER, 'zigbee2mqtt/lamp/set'), 'an owner has 50, commands need 50');
  t.false(await bridge.mayCommand(STRANGER, 'zigbee2mqtt/lamp/set'), 'not in the room');
  t.false(await bridge.mayCommand(OWNER, 'zigbee2mqtt/lamp/set/state'), 'not a topic the device announced');
  t.false(await bridge.mayCommand(OWNER, 'cmnd/lamp/POWER'));
});

test('a record older than owners is adopted by the first login speaking for it, then kept', async (t) => {
  const { bridge, sendAs, recorded } = await setup(t);
  await bridge.handleInbound({ topic: 'tele/plug/STATE', payload: Buffer.from('{"POWER":"ON"}'), qos: 1, retain: false, clientId: 'x' });
  await bridge.idle();
  t.is(await sendAs('device:plug', 'tele/plug/STATE', '{"POWER":"OFF"}'), undefined);
  t.deepEqual(await sendAs('device:other', 'tele/plug/STATE', '{"POWER":"ON"}'), { refused: 'the device belongs to another MQTT login' });
  t.deepEqual(recorded.map((r) => r.value), [true, false]);
  await bridge.releaseOwner('device:plug');
  t.is(await sendAs('device:other', 'tele/plug/STATE', '{"POWER":"ON"}'), undefined, 'a removed login\'s devices are claimable again');
});

// ---- sensors per device (issue 10 finding 6): one payload of 3,000 keys must not make 3,000 state events

test('a payload with 3,000 keys: the first 64 become sensors, the rest are ignored with one log line, twice over', async (t) => {
  const { rooms, recorded, send, bridge, logs } = await setup(t, { throttle: { minIntervalSeconds: 0, discreteMinIntervalSeconds: 0, refreshSeconds: 900, deadband: 0 } });
  const payload = JSON.stringify(Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`k${i}`, i])));
  await send('zigbee2mqtt/flood', payload);
  await send('zigbee2mqtt/flood', payload.replace('"k0":0', '"k0":-1'));

  const expected = Array.from({ length: 64 }, (_, i) => `k${i}`);
  t.is(rooms.created.length, 1);
  const device = rooms.created[0]!.initialState!.find((e) => e.type === 'org.hearth.device')!.content as { sensors: Record<string, unknown> };
  t.is(rooms.ofType('org.hearth.device').length, 0, 'the second message changed nothing of the device');
  t.deepEqual(Object.keys(device.sensors).sort(), [...expected].sort());
  t.is(recorded.length, 128, '64 readings per message');
  t.deepEqual([...new Set(recorded.map((r) => r.stream))].sort(), expected.map((k) => `z2m.flood/${k}`).sort());
  const sensorEvents = rooms.ofType('org.hearth.sensor');
  t.is(new Set(sensorEvents.map((e) => e.state_key)).size, 64);
  t.is(sensorEvents.length, 65, 'one per sensor, then k0 changed');
  t.is(logs.filter((l) => l.startsWith('device has more sensors than bridge.max_sensors_per_device')).length, 1);
  t.is(bridge.stats.valuesIgnored, 2 * 2936);
});

test('values of sensors never announced count against the cap too (Homie values before $description)', async (t) => {
  const { recorded, send } = await setup(t, { maxSensorsPerDevice: 3 });
  for (let i = 0; i < 5; i++) await send(`homie/5/boiler/node/p${i}`, String(i));
  await send('homie/5/boiler/node/p1', '11');
  t.deepEqual(recorded.map((r) => [r.stream, r.value]), [['homie.boiler/node.p0', 0], ['homie.boiler/node.p1', 1], ['homie.boiler/node.p2', 2], ['homie.boiler/node.p1', 11]]);
});
