import test from 'ava';
import { changedBeyondDeadband, decideSensorEvent, throttleFor } from '../../src/mqtt/bridge/throttle.js';

const rule = { deadband: 0.5, minIntervalSeconds: 5, discreteMinIntervalSeconds: 1, refreshSeconds: 300 };
const T = 1_000_000;

test('the first value is sent', (t) => {
  t.deepEqual(decideSensorEvent(rule, undefined, 21, T), { action: 'send' });
});

test('a change beyond the deadband is sent once the minimum interval has passed, else deferred', (t) => {
  const sent = { lastSent: 21, lastSentAt: T };
  t.deepEqual(decideSensorEvent(rule, sent, 22, T + 5000), { action: 'send' });
  t.deepEqual(decideSensorEvent(rule, sent, 22, T + 1000), { action: 'defer', at: T + 5000 });
});

test('discrete values (switches, contacts) wait only the discrete interval; numbers the numeric one', (t) => {
  const switched = { lastSent: 'OFF', lastSentAt: T };
  t.deepEqual(decideSensorEvent(rule, switched, 'ON', T + 999), { action: 'defer', at: T + 1000 });
  t.deepEqual(decideSensorEvent(rule, switched, 'ON', T + 1000), { action: 'send' });
  t.deepEqual(decideSensorEvent(rule, { lastSent: false, lastSentAt: T }, true, T + 1000), { action: 'send' });
  t.deepEqual(decideSensorEvent(rule, { lastSent: 21, lastSentAt: T }, 25, T + 1000), { action: 'defer', at: T + 5000 });
});

test('changes within the deadband are dropped until the refresh interval', (t) => {
  const sent = { lastSent: 21, lastSentAt: T };
  t.deepEqual(decideSensorEvent(rule, sent, 21.3, T + 60_000), { action: 'drop' });
  t.deepEqual(decideSensorEvent(rule, sent, 21, T + 299_999), { action: 'drop' });
  t.deepEqual(decideSensorEvent(rule, sent, 21, T + 300_000), { action: 'send' });
});

test('deadband compares with the last sent value, so drift adds up', (t) => {
  t.true(changedBeyondDeadband(0.5, 21, 21.5));
  t.false(changedBeyondDeadband(0.5, 21, 21.4));
  t.true(changedBeyondDeadband(0, 21, 21.01), 'deadband 0: any change');
  t.true(changedBeyondDeadband(0.5, 'ON', 'OFF'), 'non-numeric: any change');
  t.false(changedBeyondDeadband(0.5, true, true));
});

test('per-sensor overrides merge over the defaults', (t) => {
  t.deepEqual(throttleFor(rule, 'temperature', { minIntervalSeconds: 1 }), { deadband: 0.5, minIntervalSeconds: 1, discreteMinIntervalSeconds: 1, refreshSeconds: 300 });
  t.deepEqual(throttleFor(rule, undefined, undefined), rule);
});

test('without a configured deadband, the device class picks one; an explicit 0 means any change', (t) => {
  const unset = { minIntervalSeconds: 300, discreteMinIntervalSeconds: 1, refreshSeconds: 900 };
  t.is(throttleFor(unset, 'temperature', undefined).deadband, 0.2);
  t.is(throttleFor(unset, 'humidity', undefined).deadband, 1);
  t.is(throttleFor(unset, undefined, undefined).deadband, 0, 'no class: any change');
  t.is(throttleFor(unset, 'temperature', { deadband: 1.5 }).deadband, 1.5, 'a per-sensor override wins');
  t.is(throttleFor({ ...unset, deadband: 0 }, 'temperature', undefined).deadband, 0, 'a configured deadband wins over the class');
});
