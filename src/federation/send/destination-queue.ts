/**
 * One destination server's durable queue (server-server "Transactions"): a stream cursor over the
 * global stream (src/stream/stream-cursor.ts) whose position is saved under `federation:<server>`
 * once the server acknowledged a transaction, with the last event sent per room in the same batch.
 *
 * - Read from disk, bounded in memory: the walk scans the stream in chunks and holds at most one
 *   transaction's events (or, catching up, one event per room), whatever the backlog.
 * - A small backlog goes in order, at most 50 PDUs per transaction, so the peer sees no gaps.
 * - A large one (more than `catchUpAfter` events behind, after failures or our own downtime) sends
 *   only the newest event per room: the peer pulls the rest with `get_missing_events` and
 *   `backfill`, as Synapse's catch-up does (its per_destination_queue "catch-up mode").
 * - One transaction in flight; a failure backs off with jitter (seconds doubling to minutes, never
 *   a permanent blacklist); `poke()` (the server contacted us, the uplink is back) retries at once.
 * - What the stream does not cover waits in the durable outbox (events relayed for send_join,
 *   to-device, device lists) or, for ephemeral EDUs, in memory (typing is dropped when stale).
 * - Killed between the acknowledgement and the save, the last transaction is sent again: the
 *   peer deduplicates PDUs by event id and to-device messages by message id.
 */
import type { Logger } from 'pino';
import { serverNameOf } from '../../core/identifiers.js';
import type { JsonObject } from '../../core/types.js';
import type { RoomEngine, StoredEvent } from '../../rooms/engine.js';
import type { DestinationRecord, FederationOutboxStore } from '../../storage/federation-outbox.js';
import { StreamCursor, type CursorProgress, type CursorTimers } from '../../stream/stream-cursor.js';
import type { EventRouting } from './routing.js';

/** server-server "Transactions": at most 50 PDUs and 100 EDUs per transaction. */
export const MAX_PDUS_PER_TXN = 50;
export const MAX_EDUS_PER_TXN = 100;
/** Stream entries read per look at the disk while scanning for this destination's events. */
const SCAN_CHUNK = 200;
/** Ephemeral EDUs (typing, receipts, presence) held in memory per destination; the oldest go first. */
const MAX_EPHEMERAL_EDUS = 500;
/** Typing notifications older than this are not worth sending. */
const STALE_TYPING_MS = 30_000;

export interface Edu {
  edu_type: string;
  content: JsonObject;
}

/** One of our events on its way to this destination. */
export interface OutgoingPdu {
  stream: number;
  roomShort: number;
  event: StoredEvent;
}

export interface QueueOptions {
  /** More events than this behind (after failures or a restart): send the newest per room only. Default 50. */
  catchUpAfter?: number;
  /** Default 2 s doubling to 5 min. */
  backoff?: { firstMs: number; maxMs: number };
  timers?: CursorTimers;
  random?: () => number;
  now?: () => number;
}

export interface DestinationQueueDeps {
  destination: string;
  serverName: string;
  engine: Pick<RoomEngine, 'notifier' | 'streamRange' | 'eventByShort' | 'getEvent'>;
  routing: Pick<EventRouting, 'serversInRoom' | 'destinationsOf'>;
  store: FederationOutboxStore;
  /** PUT /_matrix/federation/v1/send/{txnId}; throws with `status` on an HTTP error. */
  send(destination: string, txnId: string, body: JsonObject): Promise<unknown>;
  txnId(): string;
  /** The destination answered after failures, or for the first time since start. */
  onReachable(destination: string, afterFailures: boolean): void;
  log: Logger;
  options?: QueueOptions;
}

/** A transaction the destination refused outright (4xx but 429): retrying it would not help. */
function refused(err: unknown): boolean {
  const status = (err as { status?: number }).status;
  return status !== undefined && status >= 400 && status < 500 && status !== 429;
}

export class DestinationQueue {
  readonly destination: string;
  private readonly cursor: StreamCursor<OutgoingPdu>;
  private ephemeral: (Edu & { queuedAt: number })[] = [];
  /** Send a transaction at the next caught-up moment even when there is nothing in it. */
  private announcePending = false;
  private failures = 0;
  private succeededOnce = false;
  /** The rooms of the transaction being acknowledged (room short -> stream), saved with the position. */
  private roomsOfAck = new Map<number, number>();
  private readonly catchUpAfter: number;
  private readonly now: () => number;
  /** The batch being processed is a catch-up (counted once acknowledged). */
  private catchUpBatch = false;
  /**
   * Counters for status, tests and /metrics (`catchUps`: catch-up batches the server acknowledged;
   * `failures`: failed sends since start, where `consecutiveFailures` resets on success).
   */
  readonly stats = { transactions: 0, pdus: 0, edus: 0, catchUps: 0, refused: 0, failures: 0 };

  constructor(private readonly deps: DestinationQueueDeps, initial: { position: number; record?: DestinationRecord }) {
    this.destination = deps.destination;
    this.catchUpAfter = deps.options?.catchUpAfter ?? MAX_PDUS_PER_TXN;
    this.now = deps.options?.now ?? Date.now;
    this.failures = initial.record?.failures ?? 0;
    const store = deps.store;
    this.cursor = new StreamCursor<OutgoingPdu>({
      position: {
        load: async () => (await store.position(this.destination)) ?? initial.position,
        save: async (position) => {
          const rooms = this.roomsOfAck;
          this.roomsOfAck = new Map();
          await store.savePosition(this.destination, position, rooms);
        },
      },
      notifier: deps.engine.notifier,
      read: (after, upTo, limit) => this.read(after, upTo, limit),
      process: (batch, progress) => this.process(batch, progress),
      caughtUp: () => this.flushExtras(),
      onError: (err, retryInMs) => this.failed(err, retryInMs),
      batchSize: MAX_PDUS_PER_TXN,
      backoff: deps.options?.backoff ?? { firstMs: 2_000, maxMs: 5 * 60_000 },
      // Every step that sent something is saved at once; only skipped entries wait.
      persistEvery: 10_000,
      ...(deps.options?.timers ? { timers: deps.options.timers } : {}),
      ...(deps.options?.random ? { random: deps.options.random } : {}),
    });
  }

  /** Starts walking from the saved position; `announce` sends a transaction even if there is nothing to send. */
  async start(announce: boolean): Promise<void> {
    this.announcePending = announce;
    await this.cursor.start();
  }

  stop(): Promise<void> {
    return this.cursor.stop();
  }

  /** Everything of ours up to this stream position was sent (or was not for this destination). */
  get position(): number {
    return this.cursor.position;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  get backingOff(): boolean {
    return this.cursor.backingOff;
  }

  get ephemeralCount(): number {
    return this.ephemeral.length;
  }

  /** There is something new in the outbox or in memory. */
  wake(): void {
    this.cursor.wake();
  }

  /** The destination is back (it contacted us, or the uplink returned): retry now. */
  poke(announce = false): void {
    if (announce) this.announcePending = true;
    this.cursor.poke();
  }

  /** Resolves once no walk is running (tests). */
  idle(): Promise<void> {
    return this.cursor.idle();
  }

  /** An ephemeral EDU (typing, receipt, presence): memory only, bounded. */
  addEphemeral(edu: Edu): void {
    this.ephemeral.push({ ...edu, queuedAt: this.now() });
    if (this.ephemeral.length > MAX_EPHEMERAL_EDUS) this.ephemeral.splice(0, this.ephemeral.length - MAX_EPHEMERAL_EDUS);
    this.cursor.wake();
  }

  /** May this walk switch to catch-up: only behind after failures or our own downtime, never in a burst. */
  private mayCatchUp(): boolean {
    return this.failures > 0 || !this.succeededOnce;
  }

  /**
   * Our events for this destination in (after, upTo], oldest first: at most `limit` in order, or
   * (more than `catchUpAfter` behind, catch-up allowed) the newest per room. A batch shorter than
   * `limit` means everything up to `upTo` was looked at.
   */
  async read(after: number, upTo: number, limit: number): Promise<OutgoingPdu[]> {
    const mayCatchUp = this.mayCatchUp();
    const inOrder: OutgoingPdu[] = [];
    const newest = new Map<number, OutgoingPdu>();
    let catchingUp = false;
    let skipped = 0;
    const servers = new Map<string, readonly string[]>();
    let from = after;
    while (from < upTo) {
      const chunk = await this.deps.engine.streamRange(from, upTo, SCAN_CHUNK);
      for (const entry of chunk) {
        const event = await this.ours(entry.eventShort, servers);
        if (!event) continue;
        const item: OutgoingPdu = { stream: entry.stream, roomShort: entry.roomShort, event };
        if (catchingUp) {
          if (newest.has(entry.roomShort)) skipped++;
          newest.set(entry.roomShort, item);
          continue;
        }
        inOrder.push(item);
        if (mayCatchUp && inOrder.length > this.catchUpAfter) {
          catchingUp = true;
          for (const pending of inOrder) {
            if (newest.has(pending.roomShort)) skipped++;
            newest.set(pending.roomShort, pending);
          }
          inOrder.length = 0;
        } else if (!mayCatchUp && inOrder.length >= limit) {
          return inOrder;
        }
      }
      if (chunk.length < SCAN_CHUNK) break;
      from = chunk[chunk.length - 1]!.stream;
    }
    this.catchUpBatch = catchingUp;
    if (!catchingUp) return inOrder;
    this.deps.log.info({ destination: this.destination, rooms: newest.size, skipped }, 'federation catch-up: sending the newest event per room; the server pulls the rest');
    return [...newest.values()].sort((a, b) => a.stream - b.stream);
  }

  /** The event at a stream entry when it is ours and goes to this destination. */
  private async ours(eventShort: number, servers: Map<string, readonly string[]>): Promise<StoredEvent | undefined> {
    const event = await this.deps.engine.eventByShort(eventShort);
    if (!event || serverNameOf(event.pdu.sender) !== this.deps.serverName) return undefined;
    let inRoom = servers.get(event.room_id);
    if (!inRoom) servers.set(event.room_id, (inRoom = await this.deps.routing.serversInRoom(event.room_id)));
    return (await this.deps.routing.destinationsOf(event, inRoom)).has(this.destination) ? event : undefined;
  }

  private async process(batch: readonly OutgoingPdu[], progress: CursorProgress): Promise<void> {
    for (let i = 0; i < batch.length; i += MAX_PDUS_PER_TXN) {
      if (progress.stopping) return;
      const chunk = batch.slice(i, i + MAX_PDUS_PER_TXN);
      await this.transmit(chunk.map((p) => p.event.pdu as unknown as JsonObject));
      const rooms = new Map<number, number>();
      for (const p of chunk) rooms.set(p.roomShort, Math.max(rooms.get(p.roomShort) ?? 0, p.stream));
      for (const [room, stream] of rooms) this.roomsOfAck.set(room, stream);
      // Acknowledged: saved at once, so a restart does not send it again.
      await progress.reached(chunk[chunk.length - 1]!.stream, { durable: true });
    }
    if (this.catchUpBatch) this.stats.catchUps++;
  }

  /** After the stream: the outbox and ephemeral EDUs, then the announcement if nothing else went out. */
  private async flushExtras(): Promise<void> {
    while (this.ephemeral.length > 0 || this.deps.store.count(this.destination) > 0) await this.transmit([]);
    if (this.announcePending) await this.transmit([]);
  }

  /**
   * Sends one transaction: `pdus` plus what fits from the outbox and the ephemeral EDUs. Resolves
   * when the destination acknowledged it (or refused it for good); throws to back off.
   */
  private async transmit(pdus: JsonObject[]): Promise<void> {
    const now = this.now();
    this.ephemeral = this.ephemeral.filter((e) => e.edu_type !== 'm.typing' || now - e.queuedAt < STALE_TYPING_MS);
    const outbox = await this.deps.store.peek(this.destination, MAX_PDUS_PER_TXN + MAX_EDUS_PER_TXN);
    const taken: number[] = [];
    const allPdus = [...pdus];
    const edus: Edu[] = [];
    for (const entry of outbox) {
      if (entry.item.kind === 'pdu') {
        if (allPdus.length >= MAX_PDUS_PER_TXN) continue;
        const event = await this.deps.engine.getEvent(entry.item.eventId);
        if (event && event.meta.status === undefined) allPdus.push(event.pdu as unknown as JsonObject);
      } else {
        if (edus.length >= MAX_EDUS_PER_TXN) continue;
        edus.push({ edu_type: entry.item.edu_type, content: entry.item.content as JsonObject });
      }
      taken.push(entry.seq);
    }
    const ephemeral = this.ephemeral.splice(0, MAX_EDUS_PER_TXN - edus.length);
    edus.push(...ephemeral.map(({ edu_type, content }) => ({ edu_type, content })));
    const body: JsonObject = { origin: this.deps.serverName, origin_server_ts: now, pdus: allPdus, edus: edus as unknown as JsonObject[] };
    try {
      await this.deps.send(this.destination, this.deps.txnId(), body);
    } catch (err) {
      if (!refused(err)) {
        // Typing is not worth keeping through a failure; receipts and presence are.
        this.ephemeral.unshift(...ephemeral.filter((e) => e.edu_type !== 'm.typing'));
        throw err;
      }
      this.stats.refused++;
      this.deps.log.warn({ destination: this.destination, status: (err as { status?: number }).status, err: (err as Error).message, pdus: allPdus.length }, 'a transaction was refused; dropping it');
    }
    await this.deps.store.remove(this.destination, taken);
    this.stats.transactions++;
    this.stats.pdus += allPdus.length;
    this.stats.edus += edus.length;
    this.announcePending = false;
    await this.succeeded();
  }

  private async succeeded(): Promise<void> {
    const afterFailures = this.failures > 0;
    if (!afterFailures && this.succeededOnce) return;
    this.failures = 0;
    this.succeededOnce = true;
    await this.deps.store.saveDestination(this.destination, { failures: 0, lastSuccessTs: this.now() });
    if (afterFailures) this.deps.log.info({ destination: this.destination }, 'federation destination reachable again');
    this.deps.onReachable(this.destination, afterFailures);
  }

  private failed(err: unknown, retryInMs: number): void {
    this.failures++;
    this.stats.failures++;
    const now = this.now();
    const message = (err as Error)?.message ?? String(err);
    this.deps.log.info({ destination: this.destination, failures: this.failures, retryInMs, err: message }, 'federation send failed; will retry');
    void this.deps.store
      .saveDestination(this.destination, { failures: this.failures, lastFailureTs: now, retryAt: now + retryInMs, lastError: message.slice(0, 200) })
      .catch((saveErr: unknown) => this.deps.log.warn({ err: (saveErr as Error).message }, 'could not save a destination\'s retry state'));
  }
}
