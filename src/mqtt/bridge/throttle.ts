/**
 * When a sensor's latest value becomes a state event (cf. MSC3489 beacons: metadata in state, data
 * points rate-limited and refreshed). Pure: the bridge keeps the state and the timers.
 *   1. the first value is sent;
 *   2. a change beyond the deadband (against the last *sent* value, so slow drift adds up) is sent
 *      at once if `minIntervalSeconds` have passed since the last send, else deferred to that moment
 *      (the newest value wins; nothing is lost at the end of a burst);
 *   3. an unchanged value (or a change within the deadband) is sent again only once `refreshSeconds`
 *      have passed, so a room shows the sensor is alive.
 */
import type { SensorThrottle } from '../../config/config.js';
import type { SensorValue } from '../adapters/model.js';

export interface ThrottleState {
  lastSent: SensorValue;
  lastSentAt: number;
}

export type ThrottleDecision = { action: 'send' } | { action: 'defer'; at: number } | { action: 'drop' };

export function decideSensorEvent(rule: SensorThrottle, state: ThrottleState | undefined, value: SensorValue, now: number): ThrottleDecision {
  if (!state) return { action: 'send' };
  const elapsed = now - state.lastSentAt;
  if (changedBeyondDeadband(rule.deadband, state.lastSent, value)) {
    const earliest = state.lastSentAt + rule.minIntervalSeconds * 1000;
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

/** A sensor's rule: the default with a per-sensor override merged over it. */
export function throttleFor(defaults: SensorThrottle, override: Partial<SensorThrottle> | undefined): SensorThrottle {
  return override ? { ...defaults, ...override } : defaults;
}
