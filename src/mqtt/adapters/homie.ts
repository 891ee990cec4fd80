/**
 * Homie 5 (homieiot.github.io, convention v5):
 *   homie/5/<device>/$state          init | ready | disconnected | sleeping | lost (the will is `lost`)
 *   homie/5/<device>/$description    JSON: { homie, version, name?, nodes: { <node>: { name?, properties:
 *                                    { <prop>: { datatype, format?, settable?, retained?, unit?, name? } } } } }
 *   homie/5/<device>/<node>/<prop>   property values as plain strings
 *   .../<prop>/set                   commands (never retained); `$target` an intended value
 * Ids are `[a-z0-9-]`; a sensor key is `<node>.<prop>`, unambiguous because ids contain no dot.
 */
import { MalformedPayload, deviceKey, type AdapterOutcome, type DeviceAnnouncement, type Observation, type SensorInfo } from './model.js';
import { decodePayload, isObject, toSensorValue } from './payload.js';
import { startsWithLevel } from './topic-filter.js';

export const HOMIE_ROOT = 'homie';
const ID = /^[a-z0-9-]+$/;

export function parseHomie(topic: string, payload: Buffer, now: number, root = HOMIE_ROOT): AdapterOutcome {
  if (!startsWithLevel(topic, root)) return undefined;
  const levels = topic.split('/');
  if (levels[1] !== '5' || levels.length < 4) return undefined;
  const device = levels[2]!;
  // `$broadcast` and other root-level `$` topics are not devices.
  if (!ID.test(device)) return [];
  const key = deviceKey('homie', device);
  if (levels.length === 4) {
    if (levels[3] === '$state') return state(key, payload);
    if (levels[3] === '$description') return describe(key, device, payload, root);
    return [];
  }
  // Only `<node>/<prop>` itself is a value: `/set`, `/$target`, `$log`, `$alert/...` are not.
  if (levels.length !== 5 || !ID.test(levels[3]!) || !ID.test(levels[4]!)) return [];
  if (payload.length === 0) return [];
  const value = toSensorValue(decodePayload(payload, 'text'));
  if (value === undefined) return [];
  return [{ kind: 'reading', reading: { deviceKey: key, sensor: `${levels[3]}.${levels[4]}`, value, ts: now } }];
}

/** `ready` is online; `disconnected`, `lost` and `sleeping` are not reachable; `init` says nothing yet. */
function state(key: string, payload: Buffer): Observation[] {
  const s = payload.toString('utf8');
  if (s === 'ready') return [{ kind: 'availability', availability: { deviceKey: key, online: true } }];
  if (s === 'disconnected' || s === 'lost' || s === 'sleeping') return [{ kind: 'availability', availability: { deviceKey: key, online: false } }];
  if (s === 'init' || s === '') return [];
  throw new MalformedPayload(`unknown Homie $state ${JSON.stringify(s.slice(0, 32))}`);
}

function describe(key: string, device: string, payload: Buffer, root: string): Observation[] {
  if (payload.length === 0) return [];
  const d = decodePayload(payload, 'json');
  if (!isObject(d) || !isObject(d.nodes)) throw new MalformedPayload('Homie $description without nodes');
  const sensors: SensorInfo[] = [];
  for (const [nodeId, node] of Object.entries(d.nodes)) {
    if (!ID.test(nodeId) || !isObject(node) || !isObject(node.properties)) continue;
    for (const [propId, p] of Object.entries(node.properties)) {
      if (!ID.test(propId) || !isObject(p)) continue;
      sensors.push(sensorFor(nodeId, propId, p, `${root}/5/${device}`));
    }
  }
  const announcement: DeviceAnnouncement = {
    key,
    convention: 'homie',
    name: typeof d.name === 'string' ? d.name : device,
    sensors,
    sourceTopic: `${root}/5/${device}/$description`,
  };
  return [{ kind: 'announce', device: announcement }];
}

/** Datatypes (Homie 5 "Property attributes"): integer, float, boolean, string, enum, color, datetime, duration, json. */
function sensorFor(nodeId: string, propId: string, p: Record<string, unknown>, deviceTopic: string): SensorInfo {
  const datatype = p.datatype;
  const sensor: SensorInfo = {
    key: `${nodeId}.${propId}`,
    name: typeof p.name === 'string' ? p.name : propId,
    kind: datatype === 'integer' || datatype === 'float' ? 'number' : datatype === 'boolean' ? 'boolean' : 'string',
  };
  if (typeof p.unit === 'string') sensor.unit = p.unit;
  if (datatype === 'boolean') {
    sensor.on = 'true';
    sensor.off = 'false';
  }
  if (p.settable === true) {
    sensor.command = { topic: `${deviceTopic}/${nodeId}/${propId}/set`, encoding: 'plain' };
    if (datatype === 'boolean') Object.assign(sensor.command, { on: 'true', off: 'false' });
  }
  return sensor;
}
