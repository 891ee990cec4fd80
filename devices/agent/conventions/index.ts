/** The conventions by name. */
import type { Convention, ConventionName } from './convention.js';
import { homeAssistant } from './home-assistant.js';
import { homie } from './homie.js';
import { tasmota } from './tasmota.js';
import { zigbee2mqtt } from './zigbee2mqtt.js';

export type { Convention, ConventionName } from './convention.js';
export { bridgeDevicesMessage } from './zigbee2mqtt.js';

export const CONVENTIONS: Readonly<Record<ConventionName, Convention>> = {
  homeassistant: homeAssistant,
  zigbee2mqtt,
  homie,
  tasmota,
};

export function conventionByName(name: string): Convention {
  const convention = CONVENTIONS[name as ConventionName];
  if (!convention) throw new Error(`unknown convention "${name}" (one of: ${Object.keys(CONVENTIONS).join(', ')})`);
  return convention;
}
