/**
 * A raw MQTT 3.1.1 client for the fuzzer: packets built with mqtt-packet and written to a plain TCP
 * socket, so topics and fields can carry bytes a well-behaved client library refuses to send
 * (invalid UTF-8, NUL, wildcards in a PUBLISH topic). Each exchange waits for its acknowledgement or
 * the server closing the connection, within a bound.
 */
import { connect, type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';

export type MqttOutcome =
  | { kind: 'acked'; packet: Packet; elapsedMs: number }
  /** The server closed the connection (what MQTT asks of it for a protocol violation). */
  | { kind: 'closed'; elapsedMs: number }
  | { kind: 'hang'; elapsedMs: number }
  | { kind: 'connection-error'; message: string; elapsedMs: number };

export interface ConnectFields {
  clientId: string | Buffer;
  username?: string | Buffer;
  password?: Buffer;
  clean?: boolean;
  keepalive?: number;
  protocolVersion?: number;
  will?: { topic: string | Buffer; payload: Buffer; qos: 0 | 1; retain: boolean };
}

export class RawMqttConnection {
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  private readonly waiters: Array<(packet: Packet | 'closed') => void> = [];
  private closed = false;
  private nextId = 1;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk) => this.parser.parse(chunk));
    this.parser.on('packet', (packet: Packet) => {
      for (const waiter of this.waiters.splice(0)) waiter(packet);
    });
    this.parser.on('error', () => socket.destroy());
    const onClose = () => {
      this.closed = true;
      for (const waiter of this.waiters.splice(0)) waiter('closed');
    };
    socket.on('close', onClose);
    socket.on('error', () => undefined); // 'close' follows
  }

  static open(host: string, port: number, boundMs: number): Promise<RawMqttConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`TCP connect to ${host}:${port} took more than ${boundMs} ms`));
      }, boundMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.setNoDelay(true);
        resolve(new RawMqttConnection(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  connectPacket(fields: ConnectFields, boundMs: number): Promise<MqttOutcome> {
    const packet: any = {
      cmd: 'connect',
      protocolId: fields.protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: fields.protocolVersion ?? 4,
      clean: fields.clean ?? true,
      clientId: fields.clientId,
      keepalive: fields.keepalive ?? 60,
    };
    if (fields.username !== undefined) packet.username = fields.username;
    if (fields.password !== undefined) packet.password = fields.password;
    if (fields.will) packet.will = fields.will;
    return this.exchange(packet, (p) => p.cmd === 'connack', boundMs);
  }

  publish(topic: string | Buffer, payload: Buffer, opts: { qos: 0 | 1; retain: boolean }, boundMs: number): Promise<MqttOutcome> {
    const messageId = this.takeId();
    const packet: any = { cmd: 'publish', topic, payload, qos: opts.qos, retain: opts.retain, dup: false };
    if (opts.qos > 0) packet.messageId = messageId;
    if (opts.qos === 0) {
      // Nothing acknowledges QoS 0: a PINGREQ after it is answered once the publish was read.
      try {
        this.write(packet);
      } catch (err) {
        return Promise.resolve({ kind: 'connection-error', message: `not sent: ${(err as Error).message}`, elapsedMs: 0 });
      }
      return this.exchange({ cmd: 'pingreq' } as Packet, (p) => p.cmd === 'pingresp', boundMs);
    }
    return this.exchange(packet, (p) => p.cmd === 'puback' && (p as any).messageId === messageId, boundMs);
  }

  subscribe(filters: Array<{ topic: string | Buffer; qos: 0 | 1 }>, boundMs: number): Promise<MqttOutcome> {
    const messageId = this.takeId();
    return this.exchange({ cmd: 'subscribe', messageId, subscriptions: filters } as any, (p) => p.cmd === 'suback' && (p as any).messageId === messageId, boundMs);
  }

  /** Bytes as they are, for damaged packets. */
  writeRaw(bytes: Buffer, boundMs: number): Promise<MqttOutcome> {
    const started = Date.now();
    this.socket.write(bytes);
    return this.exchange({ cmd: 'pingreq' } as Packet, (p) => p.cmd === 'pingresp', boundMs, started);
  }

  close(): void {
    if (!this.closed) {
      try {
        this.socket.write(mqttPacket.generate({ cmd: 'disconnect' } as Packet));
      } catch {
        // Socket already gone.
      }
    }
    this.socket.destroy();
  }

  private takeId(): number {
    const id = this.nextId;
    this.nextId = this.nextId >= 65535 ? 1 : this.nextId + 1;
    return id;
  }

  private write(packet: Packet): void {
    const bytes = mqttPacket.generate(packet);
    // mqtt-packet gives up on a field it cannot encode (a string over 65,535 bytes) after writing the
    // fixed header: such a truncated packet would only test the harness, so it is not sent.
    if (!isWholePacket(bytes)) throw new Error(`mqtt-packet could not encode this ${packet.cmd}`);
    this.socket.write(bytes);
  }

  private exchange(packet: Packet, isAnswer: (p: Packet) => boolean, boundMs: number, started = Date.now()): Promise<MqttOutcome> {
    return new Promise((resolve) => {
      if (this.closed) return resolve({ kind: 'closed', elapsedMs: 0 });
      let done = false;
      const finish = (outcome: MqttOutcome) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      const timer = setTimeout(() => finish({ kind: 'hang', elapsedMs: Date.now() - started }), boundMs);
      const wait = (p: Packet | 'closed') => {
        if (p === 'closed') finish({ kind: 'closed', elapsedMs: Date.now() - started });
        else if (isAnswer(p)) finish({ kind: 'acked', packet: p, elapsedMs: Date.now() - started });
        else if (!done) this.waiters.push(wait);
      };
      this.waiters.push(wait);
      try {
        this.write(packet);
      } catch (err) {
        finish({ kind: 'connection-error', message: `not sent: ${(err as Error).message}`, elapsedMs: 0 });
      }
    });
  }
}

/** True when the fixed header's remaining length matches the bytes after it. */
function isWholePacket(bytes: Buffer): boolean {
  let length = 0;
  let multiplier = 1;
  let i = 1;
  for (; i < Math.min(bytes.length, 5); i++) {
    length += (bytes[i]! & 0x7f) * multiplier;
    multiplier *= 128;
    if ((bytes[i]! & 0x80) === 0) break;
  }
  return bytes.length === 1 + i + length;
}
