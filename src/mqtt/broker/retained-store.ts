/**
 * Retained messages [MQTT-3.3.1-5..11], bounded and kept on disk.
 *
 * aedes' in-memory persistence held every retained payload in the heap, and our LevelDB mirror
 * loaded them all back at start: 5,000 retained 60 KB messages from one device took the gateway
 * from 72 to 554 MB, and 408 MB right after a restart (issue 10, finding 5). Here only an index
 * lives in memory (topic -> QoS, size, owner: about 150 bytes a topic); payloads stay in
 * `mqtt_retained` and are read when a subscription asks for them, which happens at SUBSCRIBE
 * (MQTT 3.1.1 section 3.3.1.3), rarely. Writes go through the broker's write-behind buffer, and
 * reads look there first.
 *
 * Caps (`mqtt.retained` in hearth.yaml), per MQTT login and in total, in messages and bytes (topic
 * plus payload): `admit` decides before aedes stores anything; a refused message is still delivered
 * to current subscribers and acknowledged, only not retained. Deleting (an empty retained payload)
 * is always allowed. Limits are counted per login rather than per client id, since a client picks
 * its ids freely.
 */
import { Readable } from 'node:stream';
import type { AedesPublishPacket as AedesPacket } from 'aedes';
import type { Database } from '../../storage/db.js';
import { filterWithin } from '../identity/acl.js';
import type { WriteBehind } from './write-behind.js';

export interface RetainedLimits {
  maxMessages: number;
  maxBytes: number;
  maxMessagesPerClient: number;
  maxBytesPerClient: number;
}

/** Owner of retained messages published by the broker itself, and of legacy records without one. */
export const BROKER_OWNER = '';

interface IndexEntry {
  qos: 0 | 1 | 2;
  /** Topic plus payload bytes: what the caps count. */
  bytes: number;
  owner: string;
}

interface Usage {
  count: number;
  bytes: number;
}

export type Admission = { ok: true } | { ok: false; reason: string };

export class RetainedStore {
  private readonly index = new Map<string, IndexEntry>();
  private readonly perOwner = new Map<string, Usage>();
  private readonly total: Usage = { count: 0, bytes: 0 };

  constructor(
    private readonly db: Database,
    private readonly writes: WriteBehind,
    private readonly limits: RetainedLimits,
  ) {}

  get size(): number {
    return this.total.count;
  }

  get bytes(): number {
    return this.total.bytes;
  }

  /** Messages and bytes `owner` has retained. */
  usageOf(owner: string): Usage {
    return { ...(this.perOwner.get(owner) ?? { count: 0, bytes: 0 }) };
  }

  /**
   * Whether `owner` may retain `payloadBytes` on `topic`; when it may, the space is taken at once
   * (so a burst is judged message by message) and `store` writes the payload.
   * Replacing one's own message counts the difference; taking over another's moves the message.
   */
  admit(owner: string, topic: string, payloadBytes: number, qos: 0 | 1 | 2): Admission {
    if (payloadBytes === 0) return { ok: true };
    const bytes = Buffer.byteLength(topic) + payloadBytes;
    const old = this.index.get(topic);
    const mine = this.perOwner.get(owner) ?? { count: 0, bytes: 0 };
    const ownerCount = mine.count + (old?.owner === owner ? 0 : 1);
    const ownerBytes = mine.bytes + bytes - (old?.owner === owner ? old.bytes : 0);
    const totalCount = this.total.count + (old ? 0 : 1);
    const totalBytes = this.total.bytes + bytes - (old?.bytes ?? 0);
    const { maxMessages, maxBytes, maxMessagesPerClient, maxBytesPerClient } = this.limits;
    if (ownerCount > maxMessagesPerClient) return { ok: false, reason: `${maxMessagesPerClient} retained messages per login` };
    if (ownerBytes > maxBytesPerClient) return { ok: false, reason: `${maxBytesPerClient} retained bytes per login` };
    if (totalCount > maxMessages) return { ok: false, reason: `${maxMessages} retained messages in total` };
    if (totalBytes > maxBytes) return { ok: false, reason: `${maxBytes} retained bytes in total` };
    this.account(topic, { qos, bytes, owner });
    return { ok: true };
  }

  /** aedes' `storeRetained`: an empty payload deletes [MQTT-3.3.1-10]; others were admitted (or are the broker's). */
  store(packet: Pick<AedesPacket, 'topic' | 'payload' | 'qos'>): void {
    const key = Buffer.from(packet.topic, 'utf8');
    const payload = packet.payload as Buffer;
    if (payload.length === 0) {
      this.account(packet.topic, undefined);
      this.writes.del('mqttRetained', key);
      return;
    }
    // The owner admission recorded; the broker's own retained publishes were never admitted.
    const owner = this.index.get(packet.topic)?.owner ?? BROKER_OWNER;
    this.account(packet.topic, { qos: packet.qos, bytes: key.length + payload.length, owner });
    this.writes.put('mqttRetained', key, encodeRetained(packet.qos, owner, payload));
  }

  /** The retained messages matching any of `filters`, read from disk one at a time. */
  stream(filters: string[]): Readable {
    return Readable.from(this.matching(filters));
  }

  private async *matching(filters: string[]): AsyncGenerator<AedesPacket> {
    for (const filter of filters) {
      // Wildcards at the first level do not match `$` topics [MQTT-4.7.2-1]; a filter without
      // wildcards (the usual subscription to one state topic) is one lookup, not a scan.
      const wildStart = filter.startsWith('+') || filter.startsWith('#');
      const literal = !filter.includes('+') && !filter.includes('#');
      const topics = literal
        ? this.index.has(filter) ? [filter] : []
        : [...this.index.keys()].filter((topic) => !(wildStart && topic.startsWith('$')) && filterWithin(topic, filter));
      for (const topic of topics) {
        const packet = await this.read(topic);
        if (packet) yield packet;
      }
    }
  }

  private async read(topic: string): Promise<AedesPacket | undefined> {
    const key = Buffer.from(topic, 'utf8');
    const pending = this.writes.peek('mqttRetained', key);
    const value = pending === undefined ? await this.db.space('mqttRetained').get(key) : pending;
    if (!value || value.length === 0) return undefined;
    const { qos, payload } = decodeRetained(Buffer.from(value));
    return { cmd: 'publish', topic, qos, payload, retain: true, dup: false, brokerId: '', brokerCounter: 0 } as AedesPacket;
  }

  /**
   * Rebuilds the index from `mqtt_retained` (payloads are read once and dropped). Records beyond
   * the total caps, e.g. written before there were caps, are deleted: returns how many.
   */
  async load(): Promise<number> {
    const over: Buffer[] = [];
    for await (const [key, value] of this.db.space('mqttRetained').iterator()) {
      const topic = Buffer.from(key).toString('utf8');
      const { qos, owner, payload } = decodeRetained(Buffer.from(value));
      const bytes = key.length + payload.length;
      if (this.total.count + 1 > this.limits.maxMessages || this.total.bytes + bytes > this.limits.maxBytes) {
        over.push(Buffer.from(key));
        continue;
      }
      this.account(topic, { qos, bytes, owner });
    }
    for (const key of over) this.writes.del('mqttRetained', key);
    return over.length;
  }

  /** Sets (or with `undefined` removes) a topic's index entry and keeps the usage counts true. */
  private account(topic: string, entry: IndexEntry | undefined): void {
    const old = this.index.get(topic);
    if (old) {
      this.add(old.owner, -1, -old.bytes);
      this.index.delete(topic);
    }
    if (entry) {
      this.index.set(topic, entry);
      this.add(entry.owner, 1, entry.bytes);
    }
  }

  private add(owner: string, count: number, bytes: number): void {
    this.total.count += count;
    this.total.bytes += bytes;
    const usage = this.perOwner.get(owner) ?? { count: 0, bytes: 0 };
    usage.count += count;
    usage.bytes += bytes;
    if (usage.count === 0) this.perOwner.delete(owner);
    else this.perOwner.set(owner, usage);
  }
}

/**
 * `mqtt_retained` value: `u8 (0x80 | qos) ‖ u16 owner length ‖ owner ‖ payload`. Values written
 * before owners were kept are `u8 qos ‖ payload` (first byte 0-2) and belong to the broker.
 */
export function encodeRetained(qos: 0 | 1 | 2, owner: string, payload: Buffer): Buffer {
  const ownerBytes = Buffer.from(owner, 'utf8');
  const head = Buffer.allocUnsafe(3);
  head[0] = 0x80 | qos;
  head.writeUInt16BE(ownerBytes.length, 1);
  return Buffer.concat([head, ownerBytes, payload]);
}

export function decodeRetained(value: Buffer): { qos: 0 | 1 | 2; owner: string; payload: Buffer } {
  const first = value[0]!;
  if ((first & 0x80) === 0) return { qos: (first & 3) as 0 | 1 | 2, owner: BROKER_OWNER, payload: value.subarray(1) };
  const ownerLength = value.readUInt16BE(1);
  return { qos: (first & 3) as 0 | 1 | 2, owner: value.toString('utf8', 3, 3 + ownerLength), payload: value.subarray(3 + ownerLength) };
}
