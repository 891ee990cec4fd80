import test from 'ava';
import mqttPacket from 'mqtt-packet';
import { PacketSizeScanner } from '../../src/mqtt/broker/packet-size-guard.js';

const publish = (payloadBytes: number, topic = 'dev/t'): Buffer =>
  mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.alloc(payloadBytes, 7), qos: 1, messageId: 1, retain: false, dup: false });
const pingreq = (): Buffer => mqttPacket.generate({ cmd: 'pingreq' });

test('packets within the limit pass, however the stream is cut (every split point of three packets)', (t) => {
  // 127/128 bytes cross the 1- to 2-byte remaining-length boundary; a PINGREQ has no body at all.
  const stream = Buffer.concat([publish(120), pingreq(), publish(300)]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const scanner = new PacketSizeScanner(400);
    t.is(scanner.push(stream.subarray(0, cut)) + scanner.push(stream.subarray(cut)), 0, `cut at ${cut}`);
  }
  const byteByByte = new PacketSizeScanner(400);
  for (const byte of stream) t.is(byteByByte.push(Uint8Array.of(byte)), 0);
});

test('a packet declaring more than the limit is refused at its header, before its body', (t) => {
  const big = publish(5000);
  const scanner = new PacketSizeScanner(1024);
  // Only the fixed header (type byte + 2 length bytes) has arrived.
  t.is(scanner.push(Buffer.concat([pingreq(), big.subarray(0, 3)])), big.length - 3);
});

test('a 256 MB declaration (four length bytes) is refused; a fifth length byte is not MQTT', (t) => {
  t.is(new PacketSizeScanner(1 << 20).push(Uint8Array.of(0x32, 0xff, 0xff, 0xff, 0x7f)), 268_435_455);
  t.is(new PacketSizeScanner(1 << 30).push(Uint8Array.of(0x32, 0xff, 0xff, 0xff, 0xff, 0x01)), -1);
});
