import test from 'ava';
import { Encoder } from 'cbor-x';
import { parseHomeAssistantDiscovery, readHomeAssistantAvailability, readHomeAssistantState } from '../../src/mqtt/adapters/homeassistant.js';
import { compileValueTemplate } from '../../src/mqtt/adapters/homeassistant-template.js';
import { parseZigbee2Mqtt } from '../../src/mqtt/adapters/zigbee2mqtt.js';
import { parseHomie } from '../../src/mqtt/adapters/homie.js';
import { parseTasmota } from '../../src/mqtt/adapters/tasmota.js';
import { parseRaw } from '../../src/mqtt/adapters/raw.js';
import { decodePayload } from '../../src/mqtt/adapters/payload.js';
import { matchTopicFilter } from '../../src/mqtt/adapters/topic-filter.js';
import { commandValue, encodeCommand, normaliseValue } from '../../src/mqtt/adapters/command.js';
import { MalformedPayload, type Observation, type DeviceAnnouncement } from '../../src/mqtt/adapters/model.js';

const NOW = 1_700_000_000_000;
const json = (v: unknown) => Buffer.from(JSON.stringify(v));
const plainCbor = new Encoder({ useRecords: false, variableMapSize: true, tagUint8Array: false });

function announced(obs: Observation[] | undefined): DeviceAnnouncement {
  const a = obs?.find((o) => o.kind === 'announce');
  if (!a || a.kind !== 'announce') throw new Error('no announcement');
  return a.device;
}
function readings(obs: Observation[] | undefined) {
  return (obs ?? []).flatMap((o) => (o.kind === 'reading' ? [[o.reading.sensor, o.reading.value]] : []));
}

// ---- payloads ----
test('payload: JSON, plain numbers and strings, CBOR by content', (t) => {
  t.deepEqual(decodePayload(json({ temperature: 21.5 })), { temperature: 21.5 });
  t.is(decodePayload(Buffer.from('21.5')), 21.5);
  t.is(decodePayload(Buffer.from('ON')), 'ON');
  t.is(decodePayload(Buffer.from('true')), true);
  t.is(decodePayload(Buffer.alloc(0)), undefined);
  t.deepEqual(decodePayload(plainCbor.encode({ temperature: 21.5, ok: true })), { temperature: 21.5, ok: true });
  t.is(decodePayload(plainCbor.encode(7)), 7, 'a small CBOR integer is a control byte, not text');
});

test('payload: malformed JSON and CBOR throw MalformedPayload', (t) => {
  t.throws(() => decodePayload(Buffer.from('{"temperature": 21.')), { instanceOf: MalformedPayload });
  t.throws(() => decodePayload(Buffer.from([0xa2, 0x61, 0x74])), { instanceOf: MalformedPayload });
  t.throws(() => decodePayload(Buffer.from([0x01, 0x02])), { instanceOf: MalformedPayload }, 'trailing bytes');
});

test('topic filters: + and # with captures, $ topics excluded', (t) => {
  t.deepEqual(matchTopicFilter('sensors/+/temperature', 'sensors/kitchen/temperature'), ['kitchen']);
  t.deepEqual(matchTopicFilter('sensors/#', 'sensors/a/b'), ['a/b']);
  t.deepEqual(matchTopicFilter('sensors/#', 'sensors'), ['']);
  t.is(matchTopicFilter('sensors/+', 'sensors/a/b'), undefined);
  t.is(matchTopicFilter('#', '$SYS/broker'), undefined);
});

// ---- Home Assistant ----
test('HA: the docs example sensor with abbreviations and ~', (t) => {
  // HA docs "MQTT Discovery": abbreviated keys and a `~` base topic.
  const obs = parseHomeAssistantDiscovery(
    'homeassistant/sensor/garden/temperature/config',
    json({
      '~': 'homeassistant/sensor/garden',
      name: 'Garden temperature',
      uniq_id: 'garden_temp_01',
      stat_t: '~/state',
      dev_cla: 'temperature',
      unit_of_meas: '°C',
      stat_cla: 'measurement',
      val_tpl: '{{ value_json.temperature }}',
      avty_t: '~/availability',
      dev: { ids: ['garden01'], name: 'Garden sensor', mf: 'Acme', mdl: 'T1000', sa: 'Garden' },
    }),
  );
  const d = announced(obs);
  t.is(d.key, 'ha.garden01');
  t.like(d, { name: 'Garden sensor', manufacturer: 'Acme', model: 'T1000', area: 'Garden', convention: 'homeassistant' });
  t.deepEqual(d.sensors, [{ key: 'temperature', name: 'Garden temperature', kind: 'number', unit: '°C', deviceClass: 'temperature', stateClass: 'measurement' }]);
  t.deepEqual(d.stateBindings, [{ topic: 'homeassistant/sensor/garden/state', deviceKey: 'ha.garden01', sensor: 'temperature', valueTemplate: '{{ value_json.temperature }}' }]);
  t.deepEqual(d.availability, { mode: 'latest', bindings: [{ topic: 'homeassistant/sensor/garden/availability', deviceKey: 'ha.garden01', payloadAvailable: 'online', payloadNotAvailable: 'offline' }] });

  const state = readHomeAssistantState(d.stateBindings![0]!, json({ temperature: 23.2, humidity: 43 }), NOW);
  t.deepEqual(state, [{ kind: 'reading', reading: { deviceKey: 'ha.garden01', sensor: 'temperature', value: 23.2, ts: NOW } }]);
  t.deepEqual(readHomeAssistantAvailability(d.availability!.bindings[0]!, Buffer.from('offline')), [
    { kind: 'availability', availability: { deviceKey: 'ha.garden01', online: false, topic: 'homeassistant/sensor/garden/availability' } },
  ]);
});

test('HA: switch with command topic, node id, availability list and mode', (t) => {
  const d = announced(
    parseHomeAssistantDiscovery(
      'homeassistant/switch/irrigation/valve/config',
      json({
        name: 'Valve',
        cmd_t: 'irrigation/valve/set',
        stat_t: 'irrigation/valve/state',
        pl_on: 'OPEN',
        pl_off: 'CLOSE',
        avty: [{ t: 'irrigation/bridge' }, { topic: 'irrigation/valve/avail', payload_available: 'up', payload_not_available: 'down' }],
        avty_mode: 'all',
      }),
    ),
  );
  t.is(d.key, 'ha.irrigation', 'without a device block the node id names the device');
  t.deepEqual(d.sensors[0], { key: 'valve', name: 'Valve', kind: 'boolean', on: 'OPEN', off: 'CLOSE', command: { topic: 'irrigation/valve/set', encoding: 'plain', on: 'OPEN', off: 'CLOSE' } });
  t.is(d.availability!.mode, 'all');
  t.deepEqual(d.availability!.bindings.map((b) => [b.topic, b.payloadAvailable]), [['irrigation/bridge', 'online'], ['irrigation/valve/avail', 'up']]);
});

test('HA: device discovery with cmps and shared options', (t) => {
  // HA docs "Device discovery payload" example shape.
  const d = announced(
    parseHomeAssistantDiscovery(
      'homeassistant/device/0AFFD2/config',
      json({
        dev: { ids: '0AFFD2', name: 'Bedroom', mf: 'Bla electronics', mdl: 'xya', sw: '1.0', sn: 'ea334450945afc', hw: '1.0rev2' },
        o: { name: 'bla2mqtt', sw: '2.1', url: 'https://bla2mqtt.example.com/support' },
        cmps: {
          temp01: { p: 'sensor', device_class: 'temperature', unit_of_measurement: '°C', value_template: '{{ value_json.temperature}}', unique_id: 'temp01ae_t' },
          hum01: { p: 'sensor', device_class: 'humidity', unit_of_measurement: '%', value_template: "{{ value_json['humidity'] }}", unique_id: 'temp01ae_h' },
        },
        state_topic: 'sensorBedroom/state',
        qos: 2,
      }),
    ),
  );
  t.is(d.key, 'ha.0affd2');
  t.is(d.swVersion, '1.0');
  t.deepEqual(d.sensors.map((s) => [s.key, s.unit, s.deviceClass]), [['temp01', '°C', 'temperature'], ['hum01', '%', 'humidity']]);
  t.deepEqual(d.stateBindings!.map((b) => b.topic), ['sensorBedroom/state', 'sensorBedroom/state']);
  const payload = json({ temperature: 19.5, humidity: 51 });
  t.deepEqual(d.stateBindings!.flatMap((b) => readings(readHomeAssistantState(b, payload, NOW))), [['temp01', 19.5], ['hum01', 51]]);
});

test('HA: empty payload retracts, status is ignored, foreign topics are not HA', (t) => {
  t.deepEqual(parseHomeAssistantDiscovery('homeassistant/sensor/garden/temperature/config', Buffer.alloc(0)), [
    { kind: 'retract', sourceTopic: 'homeassistant/sensor/garden/temperature/config' },
  ]);
  t.deepEqual(parseHomeAssistantDiscovery('homeassistant/status', Buffer.from('online')), []);
  t.is(parseHomeAssistantDiscovery('zigbee2mqtt/lamp', json({ state: 'ON' })), undefined);
  t.throws(() => parseHomeAssistantDiscovery('homeassistant/sensor/x/config', Buffer.from('{nope')), { instanceOf: MalformedPayload });
});

test('HA value templates: the simple forms only', (t) => {
  t.truthy(compileValueTemplate('{{ value }}'));
  t.truthy(compileValueTemplate("{{ value_json['a'][\"b\"][0] | float | round(1) }}"));
  t.is(compileValueTemplate('{% if value_json.x %}1{% endif %}'), undefined);
  t.is(compileValueTemplate('{{ value_json.x * 10 }}'), undefined);
  const b = { topic: 's', deviceKey: 'ha.x', sensor: 'power', valueTemplate: '{{ value_json.ENERGY.Power | int }}' };
  t.deepEqual(readings(readHomeAssistantState(b, json({ ENERGY: { Power: 45.7 } }), NOW)), [['power', 45]]);
  t.throws(() => readHomeAssistantState({ ...b, valueTemplate: '{{ states("x") }}' }, json({}), NOW), { instanceOf: MalformedPayload });
});

// ---- Zigbee2MQTT ----
test('Z2M: device state message becomes readings of an inferred device', (t) => {
  // Z2M docs: `zigbee2mqtt/0x00158d0001 {"temperature":27.34,"humidity":44.72}`.
  const obs = parseZigbee2Mqtt('zigbee2mqtt/living room sensor', json({ temperature: 27.34, humidity: 44.72, linkquality: 120, update: { state: 'idle' } }), NOW);
  t.is(announced(obs).key, 'z2m.living_room_sensor');
  t.deepEqual(readings(obs), [['temperature', 27.34], ['humidity', 44.72], ['linkquality', 120]]);
});

test('Z2M: last_seen dates the readings (ISO 8601 or epoch ms) and is not a sensor', (t) => {
  const seen = NOW - 90_000;
  for (const lastSeen of [new Date(seen).toISOString(), seen]) {
    const obs = parseZigbee2Mqtt('zigbee2mqtt/hall', json({ temperature: 19.5, last_seen: lastSeen }), NOW)!;
    t.deepEqual(announced(obs).sensors.map((s) => s.key), ['temperature']);
    const r = obs.filter((o) => o.kind === 'reading').map((o) => (o as { reading: { sensor: string; ts: number } }).reading);
    t.deepEqual(r.map((x) => [x.sensor, x.ts]), [['temperature', seen]]);
  }
  // Unparseable, or further ahead of our clock than skew explains: the time of arrival.
  for (const lastSeen of ['yesterday', NOW + 3_600_000]) {
    const obs = parseZigbee2Mqtt('zigbee2mqtt/hall', json({ temperature: 19.5, last_seen: lastSeen }), NOW)!;
    t.is((obs[1] as { reading: { ts: number } }).reading.ts, NOW);
  }
});

test('Z2M: availability in the 2.0 JSON and the legacy form; own /set ignored', (t) => {
  t.deepEqual(parseZigbee2Mqtt('zigbee2mqtt/lamp/availability', json({ state: 'online' }), NOW), [{ kind: 'availability', availability: { deviceKey: 'z2m.lamp', online: true } }]);
  t.deepEqual(parseZigbee2Mqtt('zigbee2mqtt/lamp/availability', Buffer.from('offline'), NOW), [{ kind: 'availability', availability: { deviceKey: 'z2m.lamp', online: false } }]);
  t.deepEqual(parseZigbee2Mqtt('zigbee2mqtt/lamp/set', json({ state: 'ON' }), NOW), []);
  t.throws(() => parseZigbee2Mqtt('zigbee2mqtt/lamp', Buffer.from('{"state":'), NOW), { instanceOf: MalformedPayload });
});

test('Z2M: bridge/devices exposes give units, kinds and settable commands', (t) => {
  const devices = [
    { ieee_address: '0x00124b00', type: 'Coordinator', friendly_name: 'Coordinator' },
    {
      ieee_address: '0x00158d0001',
      type: 'EndDevice',
      friendly_name: 'kitchen/plug',
      software_build_id: '1.0.5',
      definition: {
        model: 'ZNCZ04LM',
        vendor: 'Aqara',
        exposes: [
          { type: 'switch', features: [{ type: 'binary', name: 'state', property: 'state', access: 7, value_on: 'ON', value_off: 'OFF' }] },
          { type: 'numeric', name: 'power', property: 'power', unit: 'W', access: 5 },
          { type: 'composite', name: 'color_xy', property: 'color', features: [] },
        ],
      },
    },
  ];
  const obs = parseZigbee2Mqtt('zigbee2mqtt/bridge/devices', json(devices), NOW)!;
  t.is(obs.length, 1);
  const d = announced(obs);
  t.like(d, { key: 'z2m.kitchen_plug', name: 'kitchen/plug', model: 'ZNCZ04LM', manufacturer: 'Aqara' });
  t.deepEqual(d.sensors[0], { key: 'state', name: 'state', kind: 'boolean', on: 'ON', off: 'OFF', command: { topic: 'zigbee2mqtt/kitchen/plug/set', encoding: 'json-property', property: 'state', on: 'ON', off: 'OFF' } });
  t.deepEqual(d.sensors[1], { key: 'power', name: 'power', kind: 'number', unit: 'W', deviceClass: 'power' });
});

// ---- Homie 5 ----
test('Homie 5: $description, $state and property values', (t) => {
  const description = {
    homie: '5.0',
    version: 7,
    name: 'Kitchen thermostat',
    nodes: {
      thermostat: {
        name: 'Thermostat',
        properties: {
          temperature: { name: 'Temperature', datatype: 'float', unit: '°C' },
          heating: { datatype: 'boolean', settable: true },
          target: { datatype: 'integer', settable: true, unit: '°C' },
        },
      },
    },
  };
  const d = announced(parseHomie('homie/5/kitchen-thermostat/$description', json(description), NOW));
  t.like(d, { key: 'homie.kitchen-thermostat', name: 'Kitchen thermostat', convention: 'homie' });
  t.deepEqual(d.sensors[1], { key: 'thermostat.heating', name: 'heating', kind: 'boolean', on: 'true', off: 'false', command: { topic: 'homie/5/kitchen-thermostat/thermostat/heating/set', encoding: 'plain', on: 'true', off: 'false' } });
  t.deepEqual(parseHomie('homie/5/kitchen-thermostat/$state', Buffer.from('ready'), NOW), [{ kind: 'availability', availability: { deviceKey: 'homie.kitchen-thermostat', online: true } }]);
  t.deepEqual(parseHomie('homie/5/kitchen-thermostat/$state', Buffer.from('lost'), NOW), [{ kind: 'availability', availability: { deviceKey: 'homie.kitchen-thermostat', online: false } }]);
  t.deepEqual(readings(parseHomie('homie/5/kitchen-thermostat/thermostat/temperature', Buffer.from('21.5'), NOW)), [['thermostat.temperature', 21.5]]);
  t.deepEqual(parseHomie('homie/5/kitchen-thermostat/thermostat/heating/set', Buffer.from('true'), NOW), []);
  t.is(parseHomie('homie/4/x/$state', Buffer.from('ready'), NOW), undefined);
});

// ---- Tasmota ----
test('Tasmota: tele SENSOR nested JSON with units', (t) => {
  // Tasmota docs: AM2301 telemetry.
  const obs = parseTasmota('tele/tasmota_ABC123/SENSOR', json({ Time: '2024-01-01T10:00:00', AM2301: { Temperature: 21.3, Humidity: 40 }, TempUnit: 'C' }), NOW);
  const d = announced(obs);
  t.is(d.key, 'tasmota.tasmota_abc123');
  t.deepEqual(d.sensors.map((s) => [s.key, s.unit, s.deviceClass]), [['am2301.temperature', '°C', 'temperature'], ['am2301.humidity', '%', 'humidity']]);
  t.deepEqual(readings(obs), [['am2301.temperature', 21.3], ['am2301.humidity', 40]]);
});

test('Tasmota: STATE, LWT, stat POWER and RESULT', (t) => {
  const state = parseTasmota('tele/plug/STATE', json({ Time: '2024-01-01T10:00:00', UptimeSec: 615, POWER: 'ON', Wifi: { RSSI: 100, Signal: -40 } }), NOW);
  t.deepEqual(readings(state), [['uptime', 615], ['power', 'ON'], ['wifi.signal', -40], ['wifi.rssi', 100]]);
  t.deepEqual(announced(state).sensors.find((s) => s.key === 'power')!.command, { topic: 'cmnd/plug/POWER', encoding: 'plain', on: 'ON', off: 'OFF' });
  t.deepEqual(parseTasmota('tele/plug/LWT', Buffer.from('Offline'), NOW), [{ kind: 'availability', availability: { deviceKey: 'tasmota.plug', online: false } }]);
  t.deepEqual(readings(parseTasmota('stat/plug/POWER', Buffer.from('OFF'), NOW)), [['power', 'OFF']]);
  t.deepEqual(parseTasmota('stat/plug/RESULT', json({ POWER: 'ON' }), NOW), [{ kind: 'command-result', result: { deviceKey: 'tasmota.plug', sensor: 'power', value: 'ON', ts: NOW } }]);
  t.deepEqual(parseTasmota('cmnd/plug/POWER', Buffer.from('ON'), NOW), []);
  t.throws(() => parseTasmota('tele/plug/LWT', Buffer.from('maybe'), NOW), { instanceOf: MalformedPayload });
});

// ---- raw rules ----
test('raw rules: patterns, $n substitution, value path, CBOR format', (t) => {
  const rules = [
    { topic: 'sensors/+/climate', device: '$1', sensor: 'temperature', valuePath: 'readings.t', unit: '°C', deviceClass: 'temperature' },
    { topic: 'lab/+/+/raw', device: 'lab-$1', sensor: '$2', format: 'cbor' as const, commandTopic: 'lab/$1/$2/set' },
  ];
  const obs = parseRaw(rules, 'sensors/kitchen-sensor/climate', json({ readings: { t: 20.5 } }), NOW);
  t.deepEqual(announced(obs).sensors, [{ key: 'temperature', name: 'temperature', kind: 'number', unit: '°C', deviceClass: 'temperature' }]);
  t.deepEqual(obs![1], { kind: 'reading', reading: { deviceKey: 'kitchen-sensor', sensor: 'temperature', value: 20.5, ts: NOW } });
  const cbor = parseRaw(rules, 'lab/bench/voltage/raw', plainCbor.encode(3.3), NOW);
  t.deepEqual(announced(cbor).sensors[0]!.command, { topic: 'lab/bench/voltage/set', encoding: 'plain' });
  t.deepEqual(readings(cbor), [['voltage', 3.3]]);
  t.is(parseRaw(rules, 'other/topic', json(1), NOW), undefined);
  t.throws(() => parseRaw(rules, 'sensors/x/climate', json({ readings: {} }), NOW), { instanceOf: MalformedPayload });
});

// ---- commands ----
test('commands: payloads per convention and value interpretation', (t) => {
  const sw = { key: 'state', name: 'state', kind: 'boolean' as const, on: 'ON', off: 'OFF' };
  t.is(commandValue(sw, 'on'), true);
  t.is(commandValue(sw, 'OFF'), false);
  t.is(commandValue(sw, 'maybe'), undefined);
  t.is(commandValue({ key: 'x', name: 'x', kind: 'number' }, '21.5'), 21.5);
  t.is(commandValue({ key: 'x', name: 'x', kind: 'number' }, 'warm'), undefined);
  t.is(encodeCommand({ topic: 'zigbee2mqtt/lamp/set', encoding: 'json-property', property: 'state', on: 'ON', off: 'OFF' }, true), '{"state":"ON"}');
  t.is(encodeCommand({ topic: 'zigbee2mqtt/lamp/set', encoding: 'json-property', property: 'brightness' }, 128), '{"brightness":128}');
  t.is(encodeCommand({ topic: 'cmnd/plug/POWER', encoding: 'plain', on: 'ON', off: 'OFF' }, false), 'OFF');
  t.is(encodeCommand({ topic: 'homie/5/t/n/p/set', encoding: 'plain', on: 'true', off: 'false' }, true), 'true');
  t.is(normaliseValue(sw, 'ON'), true);
  t.is(normaliseValue({ key: 's', name: 's', kind: 'string' }, 123), '123');
});

test('a JSON payload whose strings hold a lone surrogate is refused as malformed (no Matrix event can carry it)', (t) => {
  const payload = Buffer.from('{"~":"lamp","name":"Lamp \\ud800","uniq_id":"lamp_t","stat_t":"~/state","dev":{"ids":["lamp"],"name":"Lamp"}}');
  t.throws(() => decodePayload(payload), { instanceOf: MalformedPayload, message: /lone surrogate/ });
  // A surrogate pair written as escapes is a real character and stays.
  t.deepEqual(decodePayload(Buffer.from('{"name":"\\ud83d\\ude00"}')), { name: '😀' });
});
