import test from 'ava';
import { CONVENTIONS, bridgeDevicesMessage } from '../../devices/agent/conventions/index.js';
import type { DeviceDescription } from '../../devices/agent/device.js';

const climate: DeviceDescription = {
  id: 'kitchen',
  name: 'Kitchen climate',
  model: 'SI7021',
  manufacturer: 'Hearth',
  sensors: [
    { key: 'temperature', kind: 'sensor', unit: '°C', deviceClass: 'temperature' },
    { key: 'humidity', kind: 'sensor', unit: '%', deviceClass: 'humidity' },
  ],
};
const plug: DeviceDescription = {
  id: 'plug',
  name: 'Plug',
  model: 'SIM-PLUG',
  manufacturer: 'Hearth',
  sensors: [{ key: 'state', kind: 'switch', deviceClass: 'outlet' }],
};
const reading = { ts: Date.UTC(2025, 0, 2, 3, 4, 5, 678), values: { temperature: 21.5, humidity: 40 } };

test('Home Assistant: abbreviated discovery with ~, JSON state with time, ON/OFF commands', (t) => {
  const ha = CONVENTIONS.homeassistant;
  const announce = ha.announce(climate);
  t.is(announce[0]!.topic, 'homeassistant/sensor/kitchen/temperature/config');
  t.true(announce[0]!.retain);
  t.like(JSON.parse(announce[0]!.payload), {
    '~': 'kitchen',
    stat_t: '~/state',
    val_tpl: '{{ value_json.temperature }}',
    unit_of_meas: '°C',
    dev_cla: 'temperature',
    avty_t: '~/availability',
    dev: { ids: ['kitchen'], mdl: 'SI7021' },
  });
  t.deepEqual(announce.at(-1), { topic: 'kitchen/availability', payload: 'online', retain: true });
  t.deepEqual(ha.encodeReading(climate, reading), [
    { topic: 'kitchen/state', payload: '{"temperature":21.5,"humidity":40,"time":"2025-01-02T03:04:05.678Z"}', retain: false },
  ]);
  t.is(ha.announce(plug)[0]!.topic, 'homeassistant/switch/plug/state/config');
  t.deepEqual(ha.commandTopics(plug), ['plug/state/set']);
  t.deepEqual(ha.decodeCommand(plug, 'plug/state/set', Buffer.from('ON')), [{ key: 'state', value: 'ON' }]);
  t.deepEqual(ha.decodeCommand(plug, 'plug/other/set', Buffer.from('ON')), []);
});

test('Zigbee2MQTT: state with last_seen, JSON availability, /set, bridge device list', (t) => {
  const z2m = CONVENTIONS.zigbee2mqtt;
  t.deepEqual(z2m.encodeReading(climate, reading), [
    { topic: 'zigbee2mqtt/kitchen', payload: '{"temperature":21.5,"humidity":40,"last_seen":"2025-01-02T03:04:05.678Z"}', retain: false },
  ]);
  t.deepEqual(z2m.will(climate), { topic: 'zigbee2mqtt/kitchen/availability', payload: '{"state":"offline"}', retain: true });
  t.deepEqual(z2m.decodeCommand(plug, 'zigbee2mqtt/plug/set', Buffer.from('{"state":"toggle"}')), [{ key: 'state', value: 'TOGGLE' }]);
  t.deepEqual(z2m.decodeCommand(plug, 'zigbee2mqtt/plug/set', Buffer.from('{"brightness":3}')), []);
  const list = JSON.parse(bridgeDevicesMessage([climate, plug]).payload) as Array<Record<string, any>>;
  t.is(list[0]!.friendly_name, 'kitchen');
  t.regex(list[0]!.ieee_address, /^0x[0-9a-f]{16}$/);
  t.like(list[0]!.definition.exposes[0], { type: 'numeric', property: 'temperature', unit: '°C' });
  t.like(list[1]!.definition.exposes[0].features[0], { type: 'binary', property: 'state', value_on: 'ON' });
});

test('Homie 5: init, description, ready; one retained message per property; boolean set', (t) => {
  const h = CONVENTIONS.homie;
  const announce = h.announce(plug);
  t.deepEqual(announce.map((m) => [m.topic, m.topic.endsWith('$state') ? m.payload : '']), [
    ['homie/5/plug/$state', 'init'],
    ['homie/5/plug/$description', ''],
    ['homie/5/plug/$state', 'ready'],
  ]);
  const description = JSON.parse(announce[1]!.payload) as Record<string, any>;
  t.is(description.homie, '5.0');
  t.true(Number.isInteger(description.version));
  t.like(description.nodes.main.properties.state, { datatype: 'boolean', settable: true });
  t.deepEqual(h.encodeReading(climate, reading).map((m) => [m.topic, m.payload, m.retain]), [
    ['homie/5/kitchen/main/temperature', '21.5', true],
    ['homie/5/kitchen/main/humidity', '40', true],
  ]);
  t.deepEqual(h.encodeReading(plug, { ts: 1, values: { state: 'ON' } })[0]!.payload, 'true');
  t.deepEqual(h.decodeCommand(plug, 'homie/5/plug/main/state/set', Buffer.from('false')), [{ key: 'state', value: 'OFF' }]);
  t.is(h.will(plug).payload, 'lost');
});

test('Tasmota: tele/SENSOR under the chip name, LWT, stat/RESULT, cmnd/POWER', (t) => {
  const tas = CONVENTIONS.tasmota;
  t.deepEqual(JSON.parse(tas.encodeReading(climate, reading)[0]!.payload), {
    Time: '2025-01-02T03:04:05',
    SI7021: { Temperature: 21.5, Humidity: 40 },
    TempUnit: 'C',
  });
  t.deepEqual(tas.encodeReading(plug, { ts: 1, values: { state: 'OFF' } }).map((m) => [m.topic, m.payload]), [
    ['stat/plug/RESULT', '{"POWER":"OFF"}'],
    ['stat/plug/POWER', 'OFF'],
  ]);
  t.deepEqual(tas.announce(plug), [{ topic: 'tele/plug/LWT', payload: 'Online', retain: true }]);
  t.deepEqual(tas.decodeCommand(plug, 'cmnd/plug/POWER', Buffer.from('TOGGLE')), [{ key: 'state', value: 'TOGGLE' }]);
  t.deepEqual(tas.commandTopics(climate), []);
});
