/**
 * Issue 10 finding 5: retained messages are capped per login and in total (messages and bytes),
 * kept on disk rather than in memory, and offline queues are capped in bytes. Real clients
 * (mqtt.js) against the embedded broker; assertions on what is retained and what was refused.
 */
import test from 'ava';
import type { MqttClient } from 'mqtt';
import { defaultConfig } from '../../src/config/config.js';
import { ALICE_TOKEN, connect, startHarness, tempDir, until, type Harness } from './broker-fixtures.js';

const LIMITS = { maxMessages: 5, maxBytes: 1_000_000, maxMessagesPerClient: 3, maxBytesPerClient: 10_000 };

/** Everything retained under `filter`, as [topic, payload]: a fresh subscriber's view, closed by a marker. */
async function retainedUnder(h: Harness, filter: string, marker: { client: MqttClient; topic: string }): Promise<[string, string][]> {
  await marker.client.publishAsync(marker.topic, 'marker', { qos: 1, retain: true });
  const reader = await connect(h.url, { username: 'alice', password: ALICE_TOKEN });
  const got: [string, string][] = [];
  reader.on('message', (topic, payload) => got.push([topic, payload.toString()]));
  // Retained messages are streamed filter by filter, in order: the marker's filter comes last.
  await reader.subscribeAsync([filter, marker.topic], { qos: 1 });
  await until(() => got.some(([topic]) => topic === marker.topic), 5000, 'the marker');
  await reader.endAsync();
  // The marker itself is retained by the same login: remove it so it does not count.
  await marker.client.publishAsync(marker.topic, '', { qos: 1, retain: true });
  return got.filter(([topic]) => topic !== marker.topic).sort();
}

test('retained messages beyond the per-login cap are delivered but not retained; replacing and deleting one\'s own work', async (t) => {
  const h = await startHarness({ mqtt: { retained: LIMITS } });
  t.teardown(() => h.stop());
  const kitchen = await h.registry.addDevice('kitchen');
  const live = await connect(h.url, { username: 'alice', password: ALICE_TOKEN });
  t.teardown(() => live.end(true));
  const seen: string[] = [];
  live.on('message', (topic) => seen.push(topic));
  await live.subscribeAsync('kitchen/r/#', { qos: 1 });

  const device = await connect(h.url, { username: kitchen.username, password: kitchen.password });
  t.teardown(() => device.end(true));
  for (let i = 1; i <= 5; i++) await device.publishAsync(`kitchen/r/${i}`, `v${i}`, { qos: 1, retain: true });
  await until(() => seen.length === 5, 5000, 'all five delivered live');
  t.is(h.broker.stats().retainedRefused, 2);
  t.deepEqual(h.broker.retainedUsage('device:kitchen').count, 3);

  // The marker needs a slot of its own: the kitchen replaces r/3 with it... so use another login.
  const garage = await h.registry.addDevice('garage');
  const other = await connect(h.url, { username: garage.username, password: garage.password });
  t.teardown(() => other.end(true));
  t.deepEqual(await retainedUnder(h, 'kitchen/r/#', { client: other, topic: 'garage/marker' }), [
    ['kitchen/r/1', 'v1'],
    ['kitchen/r/2', 'v2'],
    ['kitchen/r/3', 'v3'],
  ]);

  // Replacing its own message takes no new slot; deleting one frees a slot.
  await device.publishAsync('kitchen/r/1', 'v1 again', { qos: 1, retain: true });
  await device.publishAsync('kitchen/r/2', '', { qos: 1, retain: true });
  await device.publishAsync('kitchen/r/4', 'v4 now', { qos: 1, retain: true });
  await device.publishAsync('kitchen/r/5', 'v5 still not', { qos: 1, retain: true });
  t.is(h.broker.stats().retainedRefused, 3);
  t.deepEqual(await retainedUnder(h, 'kitchen/r/#', { client: other, topic: 'garage/marker' }), [
    ['kitchen/r/1', 'v1 again'],
    ['kitchen/r/3', 'v3'],
    ['kitchen/r/4', 'v4 now'],
  ]);
});

test('the total cap holds across logins, and the byte caps per login', async (t) => {
  const h = await startHarness({ mqtt: { retained: LIMITS } });
  t.teardown(() => h.stop());
  const [a, b] = [await h.registry.addDevice('alpha'), await h.registry.addDevice('beta')];
  const alpha = await connect(h.url, { username: a.username, password: a.password });
  const beta = await connect(h.url, { username: b.username, password: b.password });
  t.teardown(() => {
    alpha.end(true);
    beta.end(true);
  });
  for (let i = 1; i <= 3; i++) await alpha.publishAsync(`alpha/${i}`, 'a', { qos: 1, retain: true });
  for (let i = 1; i <= 3; i++) await beta.publishAsync(`beta/${i}`, 'b', { qos: 1, retain: true });
  t.deepEqual(h.broker.retainedUsage(), { count: 5, bytes: 3 * 8 + 2 * 7 });
  t.is(h.broker.retainedUsage('device:beta').count, 2, 'the total of 5 left beta two');

  // 10,000 bytes per login (topic plus payload).
  await beta.publishAsync('beta/1', '', { qos: 1, retain: true });
  await beta.publishAsync('beta/2', '', { qos: 1, retain: true });
  await beta.publishAsync('beta/big', Buffer.alloc(9_990), { qos: 1, retain: true });
  await beta.publishAsync('beta/bigger', Buffer.alloc(10_000), { qos: 1, retain: true });
  t.deepEqual(h.broker.retainedUsage('device:beta'), { count: 1, bytes: 9_998 }, 'beta/bigger alone is over 10,000');
  // Replacing its own message counts the difference; a new one must fit beside it.
  await beta.publishAsync('beta/big', Buffer.alloc(9_000), { qos: 1, retain: true });
  await beta.publishAsync('beta/small', Buffer.alloc(1_000), { qos: 1, retain: true });
  t.deepEqual(h.broker.retainedUsage('device:beta'), { count: 1, bytes: 9_008 });
  t.is(h.broker.stats().retainedRefused, 3);
});

test('retained messages survive a restart with their owners; records beyond lowered caps are deleted at start', async (t) => {
  const dir = tempDir();
  let h = await startHarness({ dir, mqtt: { retained: { ...LIMITS, maxMessagesPerClient: 5 } } });
  const dev = await h.registry.addDevice('meter');
  let device = await connect(h.url, { username: dev.username, password: dev.password });
  for (let i = 1; i <= 5; i++) await device.publishAsync(`meter/${i}`, `m${i}`, { qos: 1, retain: true });
  await device.endAsync();
  await h.stop();

  h = await startHarness({ dir, mqtt: { retained: { ...LIMITS, maxMessages: 3 } } });
  t.teardown(() => h.stop());
  t.deepEqual(h.broker.retainedUsage(), { count: 3, bytes: 3 * 9 });
  t.deepEqual(h.broker.retainedUsage('device:meter'), { count: 3, bytes: 3 * 9 }, 'the owner survived the restart');
  device = await connect(h.url, { username: dev.username, password: dev.password });
  t.teardown(() => device.end(true));
  // At its total cap: the owner may replace its own, not add.
  await device.publishAsync('meter/1', 'new', { qos: 1, retain: true });
  await device.publishAsync('meter/9', 'no room', { qos: 1, retain: true });
  const reader = await connect(h.url, { username: 'alice', password: ALICE_TOKEN });
  t.teardown(() => reader.end(true));
  const got: [string, string][] = [];
  reader.on('message', (topic, payload) => got.push([topic, payload.toString()]));
  await reader.subscribeAsync('meter/#', { qos: 1 });
  await until(() => got.length === 3, 5000, 'three retained');
  t.deepEqual(got.sort(), [['meter/1', 'new'], ['meter/2', 'm2'], ['meter/3', 'm3']]);
});

test('the offline queue of a persistent session is capped in bytes too', async (t) => {
  const h = await startHarness({ mqtt: { offlineQueueBytes: 2_500, offlineQueueTotalBytes: defaultConfig('.').mqtt.offlineQueueTotalBytes } });
  t.teardown(() => h.stop());
  const dev = await h.registry.addDevice('camera');
  const session = { clientId: 'slow-reader', clean: false, username: 'alice', password: ALICE_TOKEN };
  let reader = await connect(h.url, session);
  await reader.subscribeAsync('camera/#', { qos: 1 });
  await reader.endAsync();

  const device = await connect(h.url, { username: dev.username, password: dev.password });
  for (let i = 0; i < 5; i++) await device.publishAsync('camera/frame', Buffer.alloc(1000, 48 + i), { qos: 1 });
  await device.endAsync();
  t.is(h.broker.stats().offlineDropped, 3);

  const got: string[] = [];
  reader = await connect(h.url, session);
  t.teardown(() => reader.end(true));
  reader.on('message', (_topic, payload) => got.push(payload.toString().slice(0, 1)));
  await until(() => got.length === 2, 5000, 'the queued messages');
  t.deepEqual(got, ['0', '1']);
});
