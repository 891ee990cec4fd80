/**
 * When a sensor's latest value becomes a state event (cf. MSC3489 beacons: metadata in state, data
 * points rate-limited and refreshed). Pure: the bridge keeps the state and the timers.
 *   1. the first value is sent;
 *   2. a change beyond the deadband (against the last *sent* value, so slow drift adds up) is sent
 *      at once if the minimum interval has passed since the last send, else deferred to that moment
 *      (the newest value wins; nothing is lost at the end of a burst). The interval is
 *      `minIntervalSeconds` for numbers, `discreteMinIntervalSeconds` for booleans and strings;
 *   3. an unchanged value (or a change within the deadband) is sent again only once `refreshSeconds`
 *      have passed, so a room shows the sensor is alive.
 */
import { DEVICE_CLASS_DEADBANDS, type SensorThrottle } from '../../config/config.js';
import type { SensorValue } from '../adapters/model.js';

export interface ThrottleState {
  lastSent: SensorValue;
  lastSentAt: number;
}

export type ThrottleDecision = { action: 'send' } | { action: 'defer'; at: number } | { action: 'drop' };

export function decideSensorEvent(rule: ResolvedThrottle, state: ThrottleState | undefined, value: SensorValue, now: number): ThrottleDecision {
  if (!state) return { action: 'send' };
  const elapsed = now - state.lastSentAt;
  if (changedBeyondDeadband(rule.deadband, state.lastSent, value)) {
    const interval = typeof value === 'number' ? rule.minIntervalSeconds : rule.discreteMinIntervalSeconds;
    const earliest = state.lastSentAt + interval * 1000;
    return now >= earliest ? { action: 'send' } : { action: 'defer', at: earliest };
  }
  return elapsed >= rule.refreshSeconds * 1000 ? { action: 'send' } : { action: 'drop' };
}

export function changedBeyondDeadband(deadband: number, previous: SensorValue, value: SensorValue): boolean {
  if (typeof previous === 'number' && typeof value === 'number') {
    const delta = Math.abs(value - previous);
    return deadband > 0 ? delta >= deadband : delta > 0;
  }
  return previous !== value;
}

/** A sensor's rule, fully resolved. */
export type ResolvedThrottle = Required<SensorThrottle>;

/**
 * A sensor's rule: the defaults, a deadband from the device class when none is configured, and a
 * per-sensor override merged over them.
 */
export function throttleFor(
  defaults: SensorThrottle,
  deviceClass: string | undefined,
  override: Partial<SensorThrottle> | undefined,
): ResolvedThrottle {
  const deadband = override?.deadband ?? defaults.deadband ?? (deviceClass ? DEVICE_CLASS_DEADBANDS[deviceClass] : undefined) ?? 0;
  return { ...defaults, ...override, deadband };
}
