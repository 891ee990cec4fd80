/** The agent's config file: the example parses, and every mistake stops it with a clear message. */
import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAgentConfig, parseAgentConfig, sensorSpecsOf } from '../../devices/agent/config.js';

const EXAMPLE = fileURLToPath(new URL('../../devices/agent.example.yaml', import.meta.url));

function withSensors(sensors: string, extra = ''): string {
  return `device:\n  id: pi\n${extra}sensors:\n${sensors}`;
}

test('the example config parses (credentials beside it) into drivers, intervals and sensor specs', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hearth-agent-config-'));
  writeFileSync(join(dir, 'agent.yaml'), readFileSync(EXAMPLE, 'utf8'));
  writeFileSync(join(dir, 'credentials.json'), JSON.stringify({ name: 'living-room-pi', username: 'living-room-pi', password: 's3cret' }));
  const config = loadAgentConfig(join(dir, 'agent.yaml'));
  t.like(config, {
    broker: 'mqtt://127.0.0.1:1883',
    username: 'living-room-pi',
    password: 's3cret',
    device: { id: 'living-room-pi', name: 'Living room Pi', model: 'Raspberry Pi 4' },
    convention: 'homeassistant',
    queueDir: '/var/lib/hearth-agent/queue',
    maxQueued: 50000,
  });
  t.deepEqual(config.sensors, [
    { key: 'cpu_temperature', driver: 'thermal_zone', zone: 'cpu-thermal', intervalMs: 30_000, unit: '°C', deviceClass: 'temperature' },
    { key: 'outdoor_temperature', driver: 'ds18b20', device: '28-0316a2796eff', intervalMs: 60_000, unit: '°C', deviceClass: 'temperature' },
    { key: 'gpu_temperature', driver: 'command', command: ['vcgencmd', 'measure_temp'], pattern: 'temp=([0-9.]+)', timeoutMs: 5000, shell: false, intervalMs: 60_000, unit: '°C', deviceClass: 'temperature' },
  ]);
  t.deepEqual(sensorSpecsOf(config)[0], { key: 'cpu_temperature', kind: 'sensor', unit: '°C', deviceClass: 'temperature' });
});

test('defaults: broker, convention, interval, timeout, queue next to the file; relative roots resolved', (t) => {
  const config = parseAgentConfig(withSensors('  - { key: t, driver: thermal_zone, root: fixtures/thermal }\n  - { key: c, driver: command, command: [date] }\n  - { key: h, driver: stdin }\n'), '/etc/agent');
  t.like(config, { broker: 'mqtt://127.0.0.1:1883', convention: 'homeassistant', queueDir: '/etc/agent/agent-queue-pi', device: { id: 'pi', name: 'pi' } });
  t.deepEqual(config.sensors, [
    { key: 't', driver: 'thermal_zone', intervalMs: 60_000, root: '/etc/agent/fixtures/thermal' },
    { key: 'c', driver: 'command', command: ['date'], timeoutMs: 10_000, shell: false, intervalMs: 60_000 },
    { key: 'h', driver: 'stdin' },
  ]);
});

const mistakes: Array<[string, string, RegExp]> = [
  ['not a map', '- a\n- b\n', /the config must be a map/],
  ['unknown top-level setting', withSensors('  - { key: t, driver: stdin }\n', 'brokr: x\n'), /unknown setting "brokr"/],
  ['bad broker', withSensors('  - { key: t, driver: stdin }\n', 'broker: http://x\n'), /broker must be mqtt:\/\/host:port/],
  ['missing device id', 'device: {}\nsensors:\n  - { key: t, driver: stdin }\n', /device.id is required/],
  ['unsafe device id', 'device: { id: "a/b" }\nsensors:\n  - { key: t, driver: stdin }\n', /device id "a\/b" must be/],
  ['unknown convention', withSensors('  - { key: t, driver: stdin }\n', 'convention: matter\n'), /convention must be one of homeassistant/],
  ['no sensors', 'device: { id: pi }\nsensors: []\n', /at least one sensor/],
  ['unknown driver', withSensors('  - { key: t, driver: dht22 }\n'), /sensors\[0\].driver must be one of thermal_zone, ds18b20, command, stdin, got "dht22"/],
  ['setting of another driver', withSensors('  - { key: t, driver: thermal_zone, device: 28-0316a2796eff }\n'), /sensors\[0\]: unknown setting "device"/],
  ['duplicate key', withSensors('  - { key: t, driver: stdin }\n  - { key: t, driver: thermal_zone }\n'), /"t" is used twice/],
  ['bad key', withSensors('  - { key: "cpu temp", driver: stdin }\n'), /sensors\[0\].key must be 1-64 characters/],
  ['interval zero', withSensors('  - { key: t, driver: thermal_zone, interval_seconds: 0 }\n'), /interval_seconds must be a number of seconds from 0.1/],
  ['interval text', withSensors('  - { key: t, driver: thermal_zone, interval_seconds: "30s" }\n'), /got "30s"/],
  ['bad w1 id', withSensors('  - { key: t, driver: ds18b20, device: 10-000802b4f5a2 }\n'), /DS18B20 id like 28-/],
  ['command line without shell', withSensors('  - { key: t, driver: command, command: "vcgencmd measure_temp" }\n'), /list of arguments .*needs shell: true/],
  ['bad pattern', withSensors('  - { key: t, driver: command, command: [x], pattern: "(" }\n'), /pattern is not a regular expression/],
  ['credentials twice', withSensors('  - { key: t, driver: stdin }\n', 'credentials_file: c.json\nusername: u\n'), /either credentials_file or username\/password/],
  ['max_queued', withSensors('  - { key: t, driver: stdin }\n', 'max_queued: -1\n'), /max_queued must be a whole number >= 1/],
];

for (const [name, yaml, message] of mistakes) {
  test(`refused: ${name}`, (t) => {
    t.throws(() => parseAgentConfig(yaml, '/etc/agent'), { message });
  });
}

test('a missing credentials file and an unreadable config name the path', (t) => {
  t.throws(() => parseAgentConfig(withSensors('  - { key: t, driver: stdin }\n', 'credentials_file: nope.json\n'), '/nonexistent'), { message: /credentials_file \/nonexistent\/nope.json: ENOENT/ });
  t.throws(() => loadAgentConfig('/nonexistent/agent.yaml'), { message: /cannot read the agent config \/nonexistent\/agent.yaml/ });
});
