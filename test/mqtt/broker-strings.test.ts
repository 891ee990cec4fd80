/**
 * MQTT 3.1.1 section 1.5.3: a topic (or any string) with U+0000 or ill-formed UTF-8 closes the
 * connection [MQTT-1.5.3-1/2]; nothing of it reaches the bridge, a subscriber or the retained store.
 * The packets are written byte by byte over a raw socket: mqtt.js would not send them.
 */
import test from 'ava';
import { connect as tcpConnect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { mqttStringViolation } from '../../src/mqtt/broker/utf8-strings.js';
import { connect, sleep, startHarness, until } from './broker-fixtures.js';

test('the string rule: NUL and ill-formed UTF-8 are refused, any well-formed text is not', (t) => {
  t.is(mqttStringViolation(Buffer.from('home/kitchen/température')), undefined);
  t.is(mqttStringViolation(Buffer.from('replacement \uFFFD sent on purpose')), undefined);
  t.regex(mqttStringViolation(Buffer.from('a\u0000b'))!, /U\+0000/);
  t.regex(mqttStringViolation(Buffer.from([0x63, 0x61, 0x66, 0xc3]))!, /UTF-8/); // truncated sequence
  t.regex(mqttStringViolation(Buffer.from([0xed, 0xa0, 0x80]))!, /UTF-8/); // an encoded lone surrogate
  t.regex(mqttStringViolation(Buffer.from([0xc0, 0xaf]))!, /UTF-8/); // overlong '/'
});

/** A PUBLISH (QoS 1, retained) whose topic is exactly `topic`'s bytes. */
function rawPublish(topic: Buffer, payload: string, messageId: number): Buffer {
  const body = Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 0xff]), topic, Buffer.from([messageId >> 8, messageId & 0xff]), Buffer.from(payload)]);
  return Buffer.concat([Buffer.from([0x33, body.length]), body]);
}

/** Opens a raw connection, CONNECTs anonymously, and resolves once CONNACK 0 came back. */
async function rawClient(port: number, clientId: string): Promise<{ socket: Socket; closed: Promise<void>; received: Buffer[] }> {
  const socket = tcpConnect(port, '127.0.0.1');
  const received: Buffer[] = [];
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 30 }));
  await until(() => received.length > 0, 5000, 'CONNACK');
  assertConnack(received[0]!);
  return { socket, closed, received };
}

function assertConnack(bytes: Buffer): void {
  if (bytes[0] !== 0x20 || bytes[3] !== 0) throw new Error(`expected CONNACK 0, got ${bytes.toString('hex')}`);
}

for (const [what, topic] of [
  ['a NUL', Buffer.from('home/a\u0000b/temperature')],
  ['ill-formed UTF-8', Buffer.from([...Buffer.from('home/caf'), 0xc3, ...Buffer.from('/temperature')])],
] as const) {
  test(`a PUBLISH whose topic has ${what} closes the connection; no subscriber, bridge or retained store sees it`, async (t) => {
    const h = await startHarness({ mqtt: { allowAnonymous: true } });
    t.teardown(() => h.stop());
    const watcher = await connect(h.url, { clientId: 'watcher' });
    t.teardown(() => watcher.end(true));
    const seen: string[] = [];
    watcher.on('message', (topic) => seen.push(topic));
    await watcher.subscribeAsync('home/#', { qos: 1 });

    const raw = await rawClient(h.broker.port, 'forger');
    raw.socket.write(rawPublish(topic, '21.5', 1));
    await raw.closed;
    // No PUBACK (0x40) came back: only the CONNACK.
    t.deepEqual(Buffer.concat(raw.received).subarray(4), Buffer.alloc(0));
    t.is(h.broker.stats().invalidStrings, 1);

    // The broker still serves: a good publish arrives, alone.
    const good = await connect(h.url, { clientId: 'good' });
    await good.publishAsync('home/kitchen/temperature', '22', { qos: 1, retain: true });
    await good.endAsync();
    await until(() => seen.length === 1, 5000, 'the good message');
    t.deepEqual(seen, ['home/kitchen/temperature']);
    t.deepEqual(h.received.map((m) => m.topic), ['home/kitchen/temperature']);

    const late = await connect(h.url, { clientId: 'late' });
    t.teardown(() => late.end(true));
    const retained: string[] = [];
    late.on('message', (topic) => retained.push(topic));
    await late.subscribeAsync('#', { qos: 1 });
    await until(() => retained.length === 1, 5000, 'the retained good message');
    await sleep(100);
    t.deepEqual(retained, ['home/kitchen/temperature']);
  });
}

test('a SUBSCRIBE with a NUL in its filter and a CONNECT with one in its client id are refused the same way', async (t) => {
  const h = await startHarness({ mqtt: { allowAnonymous: true } });
  t.teardown(() => h.stop());

  const raw = await rawClient(h.broker.port, 'subscriber');
  const filter = Buffer.from('home/\u0000/#');
  const body = Buffer.concat([Buffer.from([0, 1, filter.length >> 8, filter.length & 0xff]), filter, Buffer.from([1])]);
  raw.socket.write(Buffer.concat([Buffer.from([0x82, body.length]), body]));
  await raw.closed;
  t.deepEqual(Buffer.concat(raw.received).subarray(4), Buffer.alloc(0), 'no SUBACK');

  const socket = tcpConnect(h.broker.port, '127.0.0.1');
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const answers: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => answers.push(chunk));
  socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'dev\u0000ice', clean: true, keepalive: 30 }));
  await closed;
  t.deepEqual(answers, [], 'no CONNACK');
  t.is(h.broker.stats().invalidStrings, 2);
});
