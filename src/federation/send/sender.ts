/**
 * Sending (server-server "Transactions", "PDUs", "EDUs"): every event this server authors goes to
 * every other server in the room, every event it accepted on another server's behalf as resident
 * (send_join, send_leave, send_knock) to the others, and EDUs to the servers they concern.
 *
 * Durable (issue 12, docs/federation.md "Offline"): one `DestinationQueue` per destination walks
 * the global stream from its saved position, so a backlog of days is read from disk, bounded in
 * memory, and survives kill -9; what the stream does not cover (relayed events, to-device and
 * device-list EDUs) waits in the durable outbox. Ephemeral EDUs (typing, receipts, presence) stay
 * in memory.
 *
 * Coming back: at start every destination we share a room with gets a transaction (empty if
 * there is nothing to send): Synapse resets its backoff for a server that contacts it and starts
 * its own catch-up. When a destination answers after failures (or for the first time since start),
 * `onReachable` lets the caller pull what we missed from it, and the other destinations that were
 * backing off are retried at once: it was probably our uplink that was down.
 *
 * Sensor rooms stay home: nothing of a room created with `m.federate: false` is ever sent.
 */
import type { Logger } from 'pino';
import { serverNameOf } from '../../core/identifiers.js';
import type { RoomEngine, StoredEvent } from '../../rooms/engine.js';
import type { FederationOutboxStore } from '../../storage/federation-outbox.js';
import type { FederationRequests } from '../requests.js';
import { DestinationQueue, type Edu, type QueueOptions } from './destination-queue.js';
import { EventRouting } from './routing.js';

export type { Edu } from './destination-queue.js';

/** EDUs kept durably until acknowledged (server-server "Send-to-device messaging", "Device Management"). */
const DURABLE_EDU_TYPES = new Set(['m.direct_to_device', 'm.device_list_update', 'm.signing_key_update']);
/** Durable entries per destination: beyond it new ones are refused (logged): a stranger's dead server cannot fill our disk. */
const MAX_OUTBOX_PER_DESTINATION = 20_000;

export interface SenderDeps {
  engine: RoomEngine;
  requests: Pick<FederationRequests, 'put'>;
  store: FederationOutboxStore;
  serverName: string;
  log: Logger;
  /** A destination answered after failures or for the first time since start: pull what we missed from it. */
  onReachable?: (destination: string, afterFailures: boolean) => void;
  options?: QueueOptions;
}

export interface DestinationStatus {
  destination: string;
  position: number;
  failures: number;
  backingOff: boolean;
  outbox: number;
  ephemeral: number;
  transactions: number;
  pdus: number;
  catchUps: number;
  /** Failed sends since start (retried), and transactions the destination refused for good. */
  sendFailures: number;
  refused: number;
}

export class FederationSender {
  readonly routing: EventRouting;
  private readonly queues = new Map<string, DestinationQueue>();
  private readonly creating = new Map<string, Promise<DestinationQueue>>();
  private txnCounter = 0;
  private readonly txnPrefix = Date.now().toString(36);
  private started = false;
  private stopped = false;
  private unsubscribe?: () => void;
  /** The outbox is opened once, by whoever needs it first (a send_join may come before `start`). */
  private opening?: Promise<void>;

  constructor(private readonly deps: SenderDeps) {
    this.routing = new EventRouting(deps.engine, deps.serverName);
  }

  /**
   * Opens the outbox, starts a queue for every destination we track or share a room with (each
   * announcing itself), and follows every event of ours persisted from now on.
   */
  async start(): Promise<void> {
    if (this.started || this.stopped) return;
    this.started = true;
    await this.openStore();
    this.unsubscribe = this.deps.engine.onEvent((event) => {
      if (serverNameOf(event.pdu.sender) === this.deps.serverName) void this.route(event);
    });
    const destinations = new Set(await this.deps.store.savedDestinations());
    for (const room of this.deps.engine.allRooms()) {
      try {
        for (const server of await this.routing.serversInRoom(room.roomId)) destinations.add(server);
      } catch (err) {
        this.deps.log.warn({ err: (err as Error).message, roomId: room.roomId }, 'could not list a room\'s servers');
      }
    }
    const head = this.deps.engine.notifier.position;
    await Promise.all([...destinations].map((d) => this.queueFor(d, head, true)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    await Promise.all([...this.queues.values()].map((q) => q.stop()));
  }

  /** An event accepted as resident for another server (send_join etc.): the other servers need it too. */
  relay(event: StoredEvent): void {
    void this.relayDurably(event);
  }

  /** The servers with joined members in a room now (ourselves excluded), filtered by the room's server ACL. */
  serversInRoom(roomId: string): Promise<string[]> {
    return this.routing.serversInRoom(roomId);
  }

  /**
   * Queues an EDU for one destination: to-device messages and device-list updates durably (until
   * acknowledged), typing, receipts and presence in memory (typing dropped when stale).
   */
  sendEdu(destination: string, edu: Edu): void {
    if (destination === this.deps.serverName || this.stopped) return;
    void this.enqueueEdu(destination, edu).catch((err: unknown) =>
      this.deps.log.warn({ err: (err as Error).message, destination, eduType: edu.edu_type }, 'could not queue an EDU'),
    );
  }

  /** Queues an EDU and resolves once it is on disk (durable types) or in memory. */
  async enqueueEdu(destination: string, edu: Edu): Promise<void> {
    if (destination === this.deps.serverName || this.stopped) return;
    await this.openStore();
    const queue = await this.queueFor(destination, this.deps.engine.notifier.position, false);
    if (!DURABLE_EDU_TYPES.has(edu.edu_type)) {
      queue.addEphemeral(edu);
      return;
    }
    if (this.deps.store.count(destination) >= MAX_OUTBOX_PER_DESTINATION) {
      this.deps.log.warn({ destination, eduType: edu.edu_type }, 'the federation outbox for this server is full; dropping an EDU');
      return;
    }
    await this.deps.store.enqueue(destination, { kind: 'edu', edu_type: edu.edu_type, content: edu.content });
    queue.wake();
  }

  /** Retries a destination now (it contacted us, or the network came back). */
  wake(destination: string): void {
    this.queues.get(destination)?.poke();
  }

  /**
   * Retries every destination that is backing off, announcing ourselves (their backoff to us
   * resets): what held them all back was ours (the clock was set again).
   */
  retryAll(): void {
    for (const queue of this.queues.values()) if (queue.backingOff) queue.poke(true);
  }

  /** Each destination's queue (for status pages and tests). */
  status(): DestinationStatus[] {
    return [...this.queues.values()].map((q) => ({
      destination: q.destination,
      position: q.position,
      failures: q.consecutiveFailures,
      backingOff: q.backingOff,
      outbox: this.deps.store.count(q.destination),
      ephemeral: q.ephemeralCount,
      transactions: q.stats.transactions,
      pdus: q.stats.pdus,
      catchUps: q.stats.catchUps,
      sendFailures: q.stats.failures,
      refused: q.stats.refused,
    }));
  }

  /** The queue of a destination (tests). */
  queue(destination: string): DestinationQueue | undefined {
    return this.queues.get(destination);
  }

  /** A new destination starts right before the event that made it one (nothing older is sent). */
  private async route(event: StoredEvent): Promise<void> {
    try {
      for (const destination of await this.routing.destinationsOf(event)) {
        if (!this.queues.has(destination)) await this.queueFor(destination, event.meta.stream - 1, false);
      }
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, eventId: event.event_id }, 'could not route an event for federation');
    }
  }

  private async relayDurably(event: StoredEvent): Promise<void> {
    try {
      await this.openStore();
      const origin = serverNameOf(event.pdu.sender);
      for (const destination of await this.routing.destinationsOf(event)) {
        if (destination === origin) continue;
        const queue = await this.queueFor(destination, this.deps.engine.notifier.position, false);
        await this.deps.store.enqueue(destination, { kind: 'pdu', eventId: event.event_id });
        queue.wake();
      }
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, eventId: event.event_id }, 'could not queue a relayed event');
    }
  }

  private openStore(): Promise<void> {
    this.opening ??= this.deps.store.open();
    return this.opening;
  }

  /** The queue of a destination, created (its initial position saved first) and started when new. */
  private queueFor(destination: string, initialPosition: number, announce: boolean): Promise<DestinationQueue> {
    const existing = this.queues.get(destination);
    if (existing) return Promise.resolve(existing);
    let pending = this.creating.get(destination);
    if (!pending) {
      pending = this.createQueue(destination, initialPosition, announce).finally(() => this.creating.delete(destination));
      this.creating.set(destination, pending);
    }
    return pending;
  }

  private async createQueue(destination: string, initialPosition: number, announce: boolean): Promise<DestinationQueue> {
    const { store } = this.deps;
    // Saved before the walk starts: a kill before its first transaction must not lose the start.
    if ((await store.position(destination)) === undefined) await store.savePosition(destination, Math.max(0, initialPosition));
    const queue = new DestinationQueue(
      {
        destination,
        serverName: this.deps.serverName,
        engine: this.deps.engine,
        routing: this.routing,
        store,
        send: (to, txnId, body) => this.deps.requests.put(to, `/_matrix/federation/v1/send/${encodeURIComponent(txnId)}`, body),
        txnId: () => `${this.txnPrefix}.${++this.txnCounter}`,
        onReachable: (to, afterFailures) => this.reachable(to, afterFailures),
        log: this.deps.log,
        ...(this.deps.options ? { options: this.deps.options } : {}),
      },
      { position: Math.max(0, initialPosition), record: await store.destination(destination) },
    );
    this.queues.set(destination, queue);
    if (!this.stopped) await queue.start(announce);
    return queue;
  }

  /** A destination is back: when it had been failing, so may the others (our uplink): retry them now. */
  private reachable(destination: string, afterFailures: boolean): void {
    if (afterFailures) {
      for (const queue of this.queues.values()) {
        if (queue.destination !== destination && queue.backingOff) queue.poke(true);
      }
    }
    try {
      this.deps.onReachable?.(destination, afterFailures);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, destination }, 'reachability listener failed');
    }
  }
}
