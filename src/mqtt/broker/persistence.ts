/**
 * aedes persistence that survives restarts: aedes' own in-memory persistence serves subscriptions
 * and queues (its topic trie and queue handling are well tested), and this subclass mirrors what a
 * restart must keep into our LevelDB, restoring it in `setup`:
 * - retained messages (`mqtt_retained`): not in memory at all; `RetainedStore` keeps an index and
 *   the caps, payloads stay on disk (written through the write-behind buffer);
 * - persistent sessions' subscriptions (`mqtt_sessions`), written before the SUBACK;
 * - persistent sessions' QoS 1/2 queue (`mqtt_offline`), capped per client in packets and bytes and
 *   in bytes over all sessions (aedes issue #1087: `queueLimit` does not apply to offline
 *   sessions), batched too.
 * Not mirrored, by choice: wills (re-sent by the device on its next CONNECT) and inbound QoS 2
 * state (the publisher retransmits). docs/mqtt.md "Persistence" explains the choice.
 */
import MemoryPersistence from 'aedes-persistence/asyncPersistence.js';
import type { AedesPublishPacket as AedesPacket, Client, Subscription } from 'aedes';
import type { Database } from '../../storage/db.js';
import { decodeJson, encodeJson, readU64, splitStrings, tuple, u64 } from '../../storage/codec.js';
import { WriteBehind } from './write-behind.js';
import { RetainedStore, type RetainedLimits } from './retained-store.js';

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
  /** Queued payload bytes kept per persistent session, and over all sessions. */
  offlineQueueBytes: number;
  offlineQueueTotalBytes: number;
  retained: RetainedLimits;
  /** Told how many retained records beyond the caps (written before there were caps) were deleted at start. */
  onRetainedTrimmed?: (count: number) => void;
  /** Write-behind window for retained messages and queue entries. */
  flushIntervalMs: number;
  onOfflineDrop: (clientId: string) => void;
  onError: (err: unknown) => void;
}

type ClientRef = Pick<Client, 'id'>;
/** What identifies a packet inside one broker run. */
type PacketIdentity = Pick<AedesPacket, 'brokerId' | 'brokerCounter'>;

/** One queued packet of a client: its `mqtt_offline` sequence number and payload size. */
interface QueuedEntry {
  seq: number;
  bytes: number;
}

export class LevelMirroredPersistence extends MemoryPersistence {
  private readonly writes: WriteBehind;
  readonly retained: RetainedStore;
  /** Per client: `brokerId:brokerCounter` of each queued packet -> its queue entries. */
  private readonly queued = new Map<string, Map<string, QueuedEntry[]>>();
  private readonly queueUsage = new Map<string, { count: number; bytes: number }>();
  private queuedBytes = 0;
  private nextSeq = 1;

  constructor(private readonly opts: LevelPersistenceOptions) {
    super();
    this.writes = new WriteBehind(opts.db, opts.flushIntervalMs, opts.onError);
    this.retained = new RetainedStore(opts.db, this.writes, opts.retained);
  }

  override async setup(broker: unknown): Promise<void> {
    await super.setup(broker);
    await this.restore();
  }

  /** Payload bytes queued for persistent sessions, all clients together. */
  get offlineQueuedBytes(): number {
    return this.queuedBytes;
  }

  /** Writes everything still buffered; call before closing the database. */
  flush(): Promise<void> {
    return this.writes.flush();
  }

  // ---- retained messages ----

  /** Kept by `RetainedStore`, never in aedes' memory store (see the file comment). */
  override async storeRetained(packet: AedesPacket): Promise<void> {
    this.retained.store(packet);
  }

  override createRetainedStream(pattern: string) {
    return this.retained.stream([pattern]);
  }

  override createRetainedStreamCombi(patterns: string[]) {
    return this.retained.stream(patterns);
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

  /**
   * Newer packets beyond a cap are dropped (as Mosquitto's `max_queued_messages`): the session's
   * packet count, its bytes, or the bytes queued over all sessions, which a stranger with many
   * client ids could otherwise fill.
   */
  private async enqueueCapped(clientId: string, packet: AedesPacket): Promise<void> {
    const usage = this.queueUsage.get(clientId);
    const bytes = packet.payload.length;
    if (
      (usage?.count ?? 0) >= this.opts.offlineQueueLimit ||
      (usage?.bytes ?? 0) + bytes > this.opts.offlineQueueBytes ||
      this.queuedBytes + bytes > this.opts.offlineQueueTotalBytes
    ) {
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
    const entries = byPacket.get(id);
    const entry = { seq, bytes: packet.payload.length };
    // One packet is queued twice when two of the client's subscriptions match it.
    if (entries) entries.push(entry);
    else byPacket.set(id, [entry]);
    const usage = this.queueUsage.get(clientId) ?? { count: 0, bytes: 0 };
    usage.count++;
    usage.bytes += entry.bytes;
    this.queueUsage.set(clientId, usage);
    this.queuedBytes += entry.bytes;
  }

  private untrack(clientId: string, packet: PacketIdentity): number | undefined {
    const byPacket = this.queued.get(clientId);
    const id = packetKey(packet);
    const entries = byPacket?.get(id);
    if (!byPacket || !entries) return undefined;
    const entry = entries.shift()!;
    if (entries.length === 0) byPacket.delete(id);
    if (byPacket.size === 0) this.queued.delete(clientId);
    const usage = this.queueUsage.get(clientId);
    if (usage) {
      usage.count--;
      usage.bytes -= entry.bytes;
      if (usage.count <= 0) this.queueUsage.delete(clientId);
    }
    this.queuedBytes -= entry.bytes;
    return entry.seq;
  }

  // ---- restart ----

  /** Loads the mirror back into the memory store (the writes are not re-mirrored). */
  private async restore(): Promise<void> {
    const { db } = this.opts;
    const trimmed = await this.retained.load();
    if (trimmed > 0) this.opts.onRetainedTrimmed?.(trimmed);
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
