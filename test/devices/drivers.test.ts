/**
 * The sensor drivers against fixture files in the formats the kernel writes (test/devices/fixtures:
 * a /sys/class/thermal tree with two zones and a cooling device, a /sys/bus/w1/devices tree with a
 * good DS18B20 read, a CRC mismatch and the 85 °C power-on value) and against real commands.
 */
import test from 'ava';
import { fileURLToPath } from 'node:url';
import { commandSource, parseCommandOutput } from '../../devices/agent/sources/command.js';
import { listDs18b20, openDs18b20, parseW1Slave } from '../../devices/agent/sources/ds18b20.js';
import { BadReadError } from '../../devices/agent/sources/source.js';
import { listThermalZones, openThermalZone, parseThermalTemp } from '../../devices/agent/sources/thermal-zone.js';

const fixture = (path: string) => fileURLToPath(new URL(`fixtures/${path}`, import.meta.url));
const THERMAL = fixture('thermal');
const W1 = fixture('w1');
const script = (name: string) => [process.execPath, fixture(`commands/${name}`)];

test('thermal zones: both zones found in order with their types, cooling devices ignored', async (t) => {
  t.deepEqual(await listThermalZones(THERMAL), [
    { zone: 'thermal_zone0', type: 'cpu-thermal' },
    { zone: 'thermal_zone1', type: 'x86_pkg_temp' },
  ]);
});

test('thermal zone: millidegrees become degrees Celsius, by zone name, type or default', async (t) => {
  t.is(await (await openThermalZone({ root: THERMAL })).read(), 45.678);
  t.is(await (await openThermalZone({ root: THERMAL, zone: 'x86_pkg_temp' })).read(), -5.25);
  t.is(await (await openThermalZone({ root: THERMAL, zone: 'thermal_zone0' })).read(), 45.678);
});

test('thermal zone: an unknown zone names the zones there; a corrupt temp is an error', async (t) => {
  await t.throwsAsync(openThermalZone({ root: THERMAL, zone: 'gpu' }), { message: /thermal_zone0 \(cpu-thermal\), thermal_zone1 \(x86_pkg_temp\)/ });
  t.throws(() => parseThermalTemp('45.6\n'), { message: /integer in millidegrees/ });
  t.throws(() => parseThermalTemp(''), { message: /integer in millidegrees/ });
});

test('DS18B20: a good read with its CRC gives degrees Celsius', async (t) => {
  t.deepEqual(await listDs18b20(W1), ['28-000005e2fdc3', '28-01192ba5c0ff', '28-0316a2796eff']);
  t.is(await (await openDs18b20({ root: W1, device: '28-000005e2fdc3' })).read(), 23.125);
  t.is(parseW1Slave('5e ff 4b 46 7f ff 02 10 4c : crc=4c YES\n5e ff 4b 46 7f ff 02 10 4c t=-10125\n'), -10.125);
});

test('DS18B20: a CRC mismatch is a bad read, never a value', async (t) => {
  const sensor = await openDs18b20({ root: W1, device: '28-0316a2796eff' });
  const err = await t.throwsAsync(sensor.read(), { message: /CRC mismatch/ });
  t.true(err instanceof BadReadError);
});

test('DS18B20: the 85 °C power-on reset value is a bad read', async (t) => {
  const sensor = await openDs18b20({ root: W1, device: '28-01192ba5c0ff' });
  const err = await t.throwsAsync(sensor.read(), { message: /power-on reset/ });
  t.true(err instanceof BadReadError);
});

test('DS18B20: an all-zero scratchpad is a bad read; a malformed file an error; several sensors need "device"', async (t) => {
  t.throws(() => parseW1Slave('00 00 00 00 00 00 00 00 00 : crc=00 YES\n00 00 00 00 00 00 00 00 00 t=0\n'), { instanceOf: BadReadError });
  t.throws(() => parseW1Slave('garbage\n'), { message: /no CRC verdict/ });
  t.throws(() => parseW1Slave('72 01 4b 46 7f ff 0e 10 57 : crc=57 YES\n'), { message: /no t= value/ });
  await t.throwsAsync(openDs18b20({ root: W1 }), { message: /several DS18B20s .*set "device"/ });
  await t.throwsAsync(openDs18b20({ root: W1, device: '28-aaaaaaaaaaaa' }), { code: 'ENOENT' });
});

test('command: the first number of stdout, or a pattern group', async (t) => {
  t.is(await commandSource({ command: script('prints-temperature.mjs'), timeoutMs: 10_000 }).read(), 48.3);
  t.is(await commandSource({ command: [process.execPath, '-e', 'console.log("a 1\\nb 2.5")'], pattern: '^b (\\S+)', timeoutMs: 10_000 }).read(), 2.5);
  t.is(parseCommandOutput('load: -0.5e1 units'), -5);
});

test('command: garbage, non-finite output and a failing command are errors', async (t) => {
  await t.throwsAsync(commandSource({ command: script('prints-garbage.mjs'), timeoutMs: 10_000 }).read(), { message: /no number in the output "sensor not ready/ });
  await t.throwsAsync(commandSource({ command: script('prints-infinity.mjs'), timeoutMs: 10_000 }).read(), { message: /not a finite number/ });
  await t.throwsAsync(commandSource({ command: script('fails.mjs'), timeoutMs: 10_000 }).read(), { message: /failed: .*i2c: no such device/s });
  t.throws(() => parseCommandOutput('x=abc', /x=(\w+)/), { message: /"abc" is not a number/ });
});

test('command: a hung command is killed at its timeout', async (t) => {
  await t.throwsAsync(commandSource({ command: script('hangs.mjs'), timeoutMs: 500 }).read(), { message: /timed out after 500 ms and was killed/ });
});

test('command: no shell unless configured, so shell syntax is not interpreted', async (t) => {
  // With execFile, `$((6*7))` is a literal argument echoed back as is; with a shell it is 42.
  const wholeLine = '^(\\S+)$';
  await t.throwsAsync(commandSource({ command: ['echo', '$((6*7))'], pattern: wholeLine, timeoutMs: 10_000 }).read(), { message: /"\$\(\(6\*7\)\)" is not a number/ });
  t.is(await commandSource({ command: ['echo $((6*7))'], pattern: wholeLine, shell: true, timeoutMs: 10_000 }).read(), 42);
});
