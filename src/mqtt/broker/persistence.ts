/**
 * aedes persistence that survives restarts: aedes' own in-memory persistence serves every lookup
 * (its topic trie, retained-message matching and queues are well tested), and this subclass mirrors
 * the three things a restart must keep into our LevelDB, restoring them in `setup`:
 * - retained messages (`mqtt_retained`), batched through a write-behind buffer;
 * - persistent sessions' subscriptions (`mqtt_sessions`), written before the SUBACK;
 * - persistent sessions' QoS 1/2 queue (`mqtt_offline`), capped per client (aedes issue #1087:
 *   `queueLimit` does not apply to offline sessions), batched too.
 * Not mirrored, by choice: wills (re-sent by the device on its next CONNECT) and inbound QoS 2
 * state (the publisher retransmits). docs/mqtt.md "Persistence" explains the choice.
 */
import { createRequire } from 'node:module';
import type MemoryPersistenceType from 'aedes-persistence/types/asyncPersistence.js';
import type { AedesPublishPacket as AedesPacket, Client, Subscription } from 'aedes';
import type { Database } from '../../storage/db.js';
import { decodeJson, encodeJson, readU64, splitStrings, tuple, u64 } from '../../storage/codec.js';
import { WriteBehind } from './write-behind.js';

// aedes-persistence ships its in-memory class as CommonJS without a typed subpath export.
const require = createRequire(import.meta.url);
const MemoryPersistence = require('aedes-persistence/asyncPersistence.js') as typeof MemoryPersistenceType;

/** Value of `mqtt_sessions`. */
interface SessionRecord {
  subscriptions: { topic: string; qos: 0 | 1 | 2 }[];
}

/** Value of `mqtt_offline`: one queued packet. */
interface OfflineRecord {
  topic: string;
  payload: string; // base64
  qos: 0 | 1 | 2;
  retain: boolean;
  brokerId: string;
  brokerCounter: number;
}

export interface LevelPersistenceOptions {
  db: Database;
  /** Queued packets kept per persistent session; newer packets beyond it are dropped. */
  offlineQueueLimit: number;
  /** Write-behind window for retained messages and queue entries. */
  flushIntervalMs: number;
  onOfflineDrop: (clientId: string) => void;
  onError: (err: unknown) => void;
}

type ClientRef = Pick<Client, 'id'>;
/** What identifies a packet inside one broker run. */
type PacketIdentity = Pick<AedesPacket, 'brokerId' | 'brokerCounter'>;

export class LevelMirroredPersistence extends MemoryPersistence {
  private readonly writes: WriteBehind;
  /** Per client: `brokerId:brokerCounter` of each queued packet -> its `mqtt_offline` sequence numbers. */
  private readonly queued = new Map<string, Map<string, number[]>>();
  private readonly queueLength = new Map<string, number>();
  private nextSeq = 1;

  constructor(private readonly opts: LevelPersistenceOptions) {
    super();
    this.writes = new WriteBehind(opts.db, opts.flushIntervalMs, opts.onError);
  }

  override async setup(broker: unknown): Promise<void> {
    await super.setup(broker);
    await this.restore();
  }

  /** Writes everything still buffered; call before closing the database. */
  flush(): Promise<void> {
    return this.writes.flush();
  }

  // ---- retained messages ----

  /** An empty payload deletes the retained message [MQTT-3.3.1-10]; the memory store does so too. */
  override async storeRetained(packet: AedesPacket): Promise<void> {
    await super.storeRetained(packet);
    const key = Buffer.from(packet.topic, 'utf8');
    if (packet.payload.length === 0) this.writes.del('mqttRetained', key);
    else this.writes.put('mqttRetained', key, encodeRetained(packet));
  }

  // ---- persistent sessions' subscriptions ----

  override async addSubscriptions(client: Client, subs: Subscription[]): Promise<void> {
    await super.addSubscriptions(client, subs);
    await this.saveSession(client);
  }

  override async removeSubscriptions(client: Client, subs: string[]): Promise<void> {
    await super.removeSubscriptions(client, subs);
    await this.saveSession(client);
  }

  override async cleanSubscriptions(client: Client): Promise<void> {
    const had = (await super.subscriptionsByClient(client)).length > 0;
    await super.cleanSubscriptions(client);
    if (had) await this.saveSession(client);
  }

  private async saveSession(client: ClientRef): Promise<void> {
    const subs = await super.subscriptionsByClient(client as Client);
    const key = tuple(client.id);
    const { db } = this.opts;
    if (subs.length === 0) {
      await db.write([db.del('mqttSessions', key)]);
      return;
    }
    const record: SessionRecord = { subscriptions: subs.map((s) => ({ topic: s.topic, qos: s.qos })) };
    await db.write([db.putJson('mqttSessions', key, record)]);
  }

  // ---- persistent sessions' queues ----

  override async outgoingEnqueue(sub: { clientId: string }, packet: AedesPacket): Promise<void> {
    await this.enqueueCapped(sub.clientId, packet);
  }

  override async outgoingEnqueueCombi(subs: { clientId: string }[], packet: AedesPacket): Promise<void> {
    for (const sub of subs) await this.enqueueCapped(sub.clientId, packet);
  }

  private async enqueueCapped(clientId: string, packet: AedesPacket): Promise<void> {
    if ((this.queueLength.get(clientId) ?? 0) >= this.opts.offlineQueueLimit) {
      this.opts.onOfflineDrop(clientId);
      return;
    }
    await super.outgoingEnqueue({ clientId }, packet);
    const seq = this.nextSeq++;
    this.track(clientId, packet, seq);
    this.writes.put('mqttOffline', tuple(clientId, u64(seq)), encodeJson(toOfflineRecord(packet)));
  }

  /** Called on PUBACK (and when a clean session discards its queue): the packet leaves the queue. */
  override async outgoingClearMessageId(client: Client, packet: AedesPacket) {
    const removed = await super.outgoingClearMessageId(client, packet);
    if (removed) {
      const seq = this.untrack(client.id, removed);
      if (seq !== undefined) {
        const key = tuple(client.id, u64(seq));
        // A queue entry written within the window never reaches the disk at all.
        if (!this.writes.cancelPut('mqttOffline', key)) this.writes.del('mqttOffline', key);
      }
    }
    return removed;
  }

  private track(clientId: string, packet: AedesPacket, seq: number): void {
    let byPacket = this.queued.get(clientId);
    if (!byPacket) this.queued.set(clientId, (byPacket = new Map()));
    const id = packetKey(packet);
    const seqs = byPacket.get(id);
    // One packet is queued twice when two of the client's subscriptions match it.
    if (seqs) seqs.push(seq);
    else byPacket.set(id, [seq]);
    this.queueLength.set(clientId, (this.queueLength.get(clientId) ?? 0) + 1);
  }

  private untrack(clientId: string, packet: PacketIdentity): number | undefined {
    const byPacket = this.queued.get(clientId);
    const id = packetKey(packet);
    const seqs = byPacket?.get(id);
    if (!byPacket || !seqs) return undefined;
    const seq = seqs.shift();
    if (seqs.length === 0) byPacket.delete(id);
    if (byPacket.size === 0) this.queued.delete(clientId);
    const left = (this.queueLength.get(clientId) ?? 1) - 1;
    if (left > 0) this.queueLength.set(clientId, left);
    else this.queueLength.delete(clientId);
    return seq;
  }

  // ---- restart ----

  /** Loads the mirror back into the memory store (the writes are not re-mirrored). */
  private async restore(): Promise<void> {
    const { db } = this.opts;
    for await (const [key, value] of db.space('mqttRetained').iterator()) {
      await super.storeRetained(decodeRetained(Buffer.from(key).toString('utf8'), value));
    }
    for await (const [key, value] of db.space('mqttSessions').iterator()) {
      const clientId = splitStrings(key, 1).strings[0]!;
      const record = decodeJson<SessionRecord>(value);
      await super.addSubscriptions({ id: clientId } as Client, record.subscriptions as Subscription[]);
    }
    for await (const [key, value] of db.space('mqttOffline').iterator()) {
      const { strings, rest } = splitStrings(key, 1);
      const clientId = strings[0]!;
      const seq = readU64(rest);
      const packet = fromOfflineRecord(decodeJson<OfflineRecord>(value));
      await super.outgoingEnqueue({ clientId }, packet);
      this.track(clientId, packet, seq);
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
    }
  }
}

function packetKey(packet: PacketIdentity): string {
  return `${packet.brokerId}:${packet.brokerCounter}`;
}

/** `mqtt_retained` value: `u8 qos ‖ payload`. */
function encodeRetained(packet: AedesPacket): Buffer {
  return Buffer.concat([Buffer.from([packet.qos]), packet.payload as Buffer]);
}

function decodeRetained(topic: string, value: Buffer): AedesPacket {
  return {
    cmd: 'publish',
    topic,
    qos: value[0] as 0 | 1 | 2,
    payload: value.subarray(1),
    retain: true,
    dup: false,
    brokerId: '',
    brokerCounter: 0,
  } as AedesPacket;
}

function toOfflineRecord(packet: AedesPacket): OfflineRecord {
  return {
    topic: packet.topic,
    payload: Buffer.from(packet.payload).toString('base64'),
    qos: packet.qos,
    retain: packet.retain,
    brokerId: packet.brokerId,
    brokerCounter: packet.brokerCounter,
  };
}

function fromOfflineRecord(r: OfflineRecord): AedesPacket {
  return {
    cmd: 'publish',
    topic: r.topic,
    payload: Buffer.from(r.payload, 'base64'),
    qos: r.qos,
    retain: r.retain,
    dup: false,
    brokerId: r.brokerId,
    brokerCounter: r.brokerCounter,
  } as AedesPacket;
}
