/**
 * Linux thermal zones (`/sys/class/thermal/thermal_zone<N>/`): `temp` holds the temperature in
 * millidegrees Celsius as one integer line, `type` names the zone (`cpu-thermal` on a Raspberry Pi,
 * `x86_pkg_temp`, `acpitz`...). See the kernel's Documentation/driver-api/thermal/sysfs-api.rst.
 * The root is configurable so tests (and containers with a bind-mounted /sys) can point elsewhere.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireFinite, type SensorSource } from './source.js';

export const DEFAULT_THERMAL_ROOT = '/sys/class/thermal';

export interface ThermalZone {
  /** Directory name, e.g. `thermal_zone0`. */
  zone: string;
  /** Contents of `type`, e.g. `cpu-thermal`. */
  type: string;
}

/** The zones under `root`, in numeric order (cooling devices and other entries are not zones). */
export async function listThermalZones(root = DEFAULT_THERMAL_ROOT): Promise<ThermalZone[]> {
  const names = (await readdir(root)).filter((name) => /^thermal_zone\d+$/.test(name));
  names.sort((a, b) => zoneNumber(a) - zoneNumber(b));
  return Promise.all(names.map(async (zone) => ({ zone, type: (await readFile(join(root, zone, 'type'), 'utf8')).trim() })));
}

function zoneNumber(name: string): number {
  return Number(name.slice('thermal_zone'.length));
}

/** Parses a `temp` file: integer millidegrees Celsius to degrees Celsius. */
export function parseThermalTemp(text: string): number {
  const line = text.trim();
  // Some drivers fail a read with an error, none write a partial value: anything else is corrupt.
  if (!/^-?\d+$/.test(line)) throw new Error(`expected an integer in millidegrees Celsius, got ${JSON.stringify(line)}`);
  return requireFinite(Number(line) / 1000, 'thermal zone');
}

/**
 * Opens a zone, chosen by directory name (`thermal_zone1`) or by type (`cpu-thermal`); the first
 * zone when none is given (the only one on a Raspberry Pi).
 */
export async function openThermalZone(options: { root?: string; zone?: string } = {}): Promise<SensorSource> {
  const root = options.root ?? DEFAULT_THERMAL_ROOT;
  const zones = await listThermalZones(root);
  const wanted = options.zone;
  const zone = wanted === undefined ? zones[0] : (zones.find((z) => z.zone === wanted) ?? zones.find((z) => z.type === wanted));
  if (!zone) {
    const known = zones.map((z) => `${z.zone} (${z.type})`).join(', ') || 'none';
    throw new Error(`thermal zone ${wanted ?? ''} not found under ${root}; zones there: ${known}`);
  }
  const path = join(root, zone.zone, 'temp');
  return {
    description: `${path} (${zone.type})`,
    read: async () => parseThermalTemp(await readFile(path, 'utf8')),
  };
}
