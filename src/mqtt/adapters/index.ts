/**
 * The convention adapters in the order the bridge tries them. Each returns `undefined` for a topic
 * that is not its own. Home Assistant state and availability topics are arbitrary, so they are not
 * here: the bridge looks them up in the bindings the discovery messages announced.
 */
import type { RawRuleWithFormat } from './raw.js';
import { parseHomeAssistantDiscovery } from './homeassistant.js';
import { parseHomie } from './homie.js';
import { parseRaw } from './raw.js';
import { parseTasmota } from './tasmota.js';
import { parseZigbee2Mqtt } from './zigbee2mqtt.js';
import type { AdapterOutcome } from './model.js';

export type TopicAdapter = (topic: string, payload: Buffer, now: number) => AdapterOutcome;

/** Raw rules first: the user's explicit configuration beats a convention guessed from the topic. */
export function topicAdapters(rawRules: readonly RawRuleWithFormat[]): TopicAdapter[] {
  return [
    (topic, payload, now) => parseRaw(rawRules, topic, payload, now),
    (topic, payload) => parseHomeAssistantDiscovery(topic, payload),
    parseZigbee2Mqtt,
    parseHomie,
    parseTasmota,
  ];
}

export * from './model.js';
export { readHomeAssistantAvailability, readHomeAssistantState } from './homeassistant.js';
export { commandValue, encodeCommand, normaliseValue } from './command.js';
export type { RawRuleWithFormat } from './raw.js';
