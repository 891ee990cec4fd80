/**
 * DS18B20 1-Wire temperature sensors through the kernel's w1_therm driver:
 * `/sys/bus/w1/devices/28-<serial>/w1_slave` holds two lines, the 9 scratchpad bytes each time:
 *
 *     72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
 *     72 01 4b 46 7f ff 0e 10 57 t=23125
 *
 * `t=` is millidegrees Celsius. Reads that must never be published (they are `BadReadError`s):
 * - `crc=.. NO`: the bytes were corrupted on the bus (long or noisy cables); `t=` is garbage.
 * - `t=85000`: the temperature register's power-on reset value (+85 °C, DS18B20 datasheet,
 *   "Operation - Measuring Temperature" / memory map), returned when the sensor lost power (parasite
 *   mode, a loose wire) and no conversion ran. A true 85.000 °C reads the same and is dropped too:
 *   indoor and weather sensors never see it, and publishing a phantom 85 °C spike is worse.
 * - all scratchpad bytes zero: the data line is stuck low (sensor missing); the CRC of zeros is
 *   zero, so the kernel says YES.
 * Family code 28 is the DS18B20 (10 is the DS18S20, 22 the DS1822, different registers).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BadReadError, requireFinite, type SensorSource } from './source.js';

export const DEFAULT_W1_ROOT = '/sys/bus/w1/devices';
const POWER_ON_RESET_MILLIDEGREES = 85_000;

/** DS18B20 device directories (`28-...`) under `root`, sorted. */
export async function listDs18b20(root = DEFAULT_W1_ROOT): Promise<string[]> {
  return (await readdir(root)).filter((name) => /^28-[0-9a-f]{12}$/i.test(name)).sort();
}

/** Parses `w1_slave` into degrees Celsius; throws `BadReadError` for the reads described above. */
export function parseW1Slave(text: string): number {
  const [crcLine = '', dataLine = ''] = text.trim().split('\n');
  const crc = /crc=([0-9a-f]{2}) (YES|NO)\s*$/i.exec(crcLine);
  if (!crc) throw new Error(`w1_slave: no CRC verdict in ${JSON.stringify(crcLine)}`);
  if (crc[2]!.toUpperCase() !== 'YES') throw new BadReadError(`CRC mismatch (${crcLine.trim()})`);
  const bytes = crcLine.slice(0, crcLine.indexOf(':')).trim().split(/\s+/);
  if (bytes.every((b) => b === '00')) throw new BadReadError('all scratchpad bytes are zero (data line stuck low?)');
  const t = /t=(-?\d+)\s*$/.exec(dataLine);
  if (!t) throw new Error(`w1_slave: no t= value in ${JSON.stringify(dataLine)}`);
  const millidegrees = Number(t[1]);
  if (millidegrees === POWER_ON_RESET_MILLIDEGREES) throw new BadReadError('85 °C power-on reset value (no conversion ran)');
  return requireFinite(millidegrees / 1000, 'DS18B20');
}

/**
 * Opens a sensor by its directory name (`28-0316a2796eff`); when none is given, the only DS18B20
 * on the bus (an error if there are several: which is which must be configured).
 */
export async function openDs18b20(options: { root?: string; device?: string } = {}): Promise<SensorSource> {
  const root = options.root ?? DEFAULT_W1_ROOT;
  let device = options.device;
  if (device === undefined) {
    const found = await listDs18b20(root);
    if (found.length !== 1) {
      throw new Error(`${found.length === 0 ? 'no DS18B20 (28-*)' : `several DS18B20s (${found.join(', ')})`} under ${root}: set "device"`);
    }
    device = found[0]!;
  }
  const path = join(root, device, 'w1_slave');
  // Fail at start-up rather than at every poll when the sensor is not there.
  await readFile(path, 'utf8');
  return { description: path, read: async () => parseW1Slave(await readFile(path, 'utf8')) };
}
