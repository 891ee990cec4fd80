/**
 * The device agent for real sensors, end to end: `devices/agent/main.ts --config` with a thermal
 * zone and two DS18B20s read from fixture trees in the kernel's formats publishes through the real
 * gateway with the credentials of `hearth device add`; the zone's temperature shows in the device
 * room's state, and the DS18B20 reads that must never be published (a CRC mismatch, the 85 °C
 * power-on value) do not.
 */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { silenceSdk } from './helpers/sdk.js';
import { REPO_ROOT } from './mqtt-helpers/gateway.js';
import { agentSuite } from './mqtt-helpers/agent-suite.js';
import { joinDeviceRoom, stateContent, waitForState } from './mqtt-helpers/matrix.js';

silenceSdk();

const suite = agentSuite('hearth-agent-sensors-');
const { workDir } = suite;
const FIXTURES = join(REPO_ROOT, 'test/devices/fixtures');

test.serial('a thermal zone read by the agent becomes the sensor state of its device room; bad 1-Wire reads never do', async (t) => {
  const credentials = await suite.gateway.addDevice('attic-pi');
  writeFileSync(join(workDir, 'credentials.json'), JSON.stringify(credentials), { mode: 0o600 });
  const configPath = join(workDir, 'agent.yaml');
  writeFileSync(
    configPath,
    `broker: mqtt://127.0.0.1:${suite.gateway.server.mqttPort}
credentials_file: credentials.json
device: { id: attic-pi, name: Attic Pi, model: Raspberry Pi 4 }
convention: homeassistant
queue_dir: queue
sensors:
  - { key: cpu_temperature, driver: thermal_zone, root: ${join(FIXTURES, 'thermal')}, zone: cpu-thermal, interval_seconds: 1, unit: °C, device_class: temperature }
  - { key: crc_failing, driver: ds18b20, root: ${join(FIXTURES, 'w1')}, device: 28-0316a2796eff, interval_seconds: 1, unit: °C }
  - { key: powering_up, driver: ds18b20, root: ${join(FIXTURES, 'w1')}, device: 28-01192ba5c0ff, interval_seconds: 1, unit: °C }
`,
  );
  suite.startAgent(['--config', configPath]);

  const roomId = await joinDeviceRoom(suite.alice.client, `@ha.attic-pi:${suite.gateway.server.serverName}`);
  t.like(stateContent(suite.alice.client, roomId, 'org.hearth.device'), { name: 'Attic Pi', model: 'Raspberry Pi 4' });

  // 45678 millidegrees; a decimal string in the event, as Matrix's canonical JSON has no floats.
  const state = await waitForState(suite.alice.client, roomId, 'org.hearth.sensor', 'cpu_temperature', (c) => c.value === '45.678');
  t.like(state, { value: '45.678', unit: '°C', device_class: 'temperature' });
  // The sensors are read together and published as one reading: the one that carried the zone's
  // value was the poll in which both DS18B20 reads were refused.
  t.is(stateContent(suite.alice.client, roomId, 'org.hearth.sensor', 'crc_failing')?.value, undefined);
  t.is(stateContent(suite.alice.client, roomId, 'org.hearth.sensor', 'powering_up')?.value, undefined);
  t.regex(suite.agentLog(), /crc_failing: bad read skipped: CRC mismatch/);
  t.regex(suite.agentLog(), /powering_up: bad read skipped: 85 °C power-on reset value/);
});
