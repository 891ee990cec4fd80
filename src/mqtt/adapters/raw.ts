/**
 * Raw rules from the configuration (`bridge.raw_rules`) for devices that follow no convention: a
 * topic filter with `+`/`#`, the device and sensor it means (`$n` are the wildcards in order), a
 * dotted path into the payload, unit and device class, and an optional command topic. The first
 * matching rule wins.
 */
import type { RawRule } from '../../config/config.js';
import { MalformedPayload, deviceKey, slugify, type AdapterOutcome, type SensorInfo } from './model.js';
import { decodePayload, getPath, toSensorValue, type PayloadFormat } from './payload.js';
import { matchTopicFilter, substituteCaptures } from './topic-filter.js';

/** A raw rule may name its payload format; content decides otherwise (see payload.ts). */
export type RawRuleWithFormat = RawRule & { format?: PayloadFormat };

export function parseRaw(rules: readonly RawRuleWithFormat[], topic: string, payload: Buffer, now: number): AdapterOutcome {
  for (const rule of rules) {
    const captures = matchTopicFilter(rule.topic, topic);
    if (!captures) continue;
    if (payload.length === 0) return [];
    const key = deviceKey('raw', substituteCaptures(rule.device, captures));
    const sensorKey = slugify(substituteCaptures(rule.sensor, captures));
    const value = toSensorValue(getPath(decodePayload(payload, rule.format ?? 'auto'), rule.valuePath));
    if (value === undefined) throw new MalformedPayload(`no scalar value at ${rule.valuePath ?? 'the payload'}`);
    const sensor: SensorInfo = { key: sensorKey, name: sensorKey, kind: typeof value === 'number' ? 'number' : typeof value === 'boolean' ? 'boolean' : 'string' };
    if (rule.unit) sensor.unit = rule.unit;
    if (rule.deviceClass) sensor.deviceClass = rule.deviceClass;
    if (rule.commandTopic) sensor.command = { topic: substituteCaptures(rule.commandTopic, captures), encoding: 'plain' };
    return [
      { kind: 'announce', device: { key, convention: 'raw', name: key, sensors: [sensor], sourceTopic: rule.topic } },
      { kind: 'reading', reading: { deviceKey: key, sensor: sensorKey, value, ts: now } },
    ];
  }
  return undefined;
}
