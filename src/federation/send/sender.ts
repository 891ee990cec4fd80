/**
 * Sending (server-server "Transactions", "PDUs", "EDUs"): every event this server authors, and
 * every event it accepted on another server's behalf as resident (send_join, send_leave,
 * send_knock), goes to every other server in the room; EDUs (typing, receipts, device lists,
 * to-device) to the servers they concern.
 *
 * Per destination: one transaction in flight (at most 50 PDUs, 100 EDUs), PDUs in the order they
 * were persisted, retried with exponential backoff and jitter; any request from that server, or
 * `wake()`, retries at once. The queues are in memory and bounded; making them durable and
 * catching up after days offline is the job of the offline-federation work (issue 12), which
 * replaces `enqueue` with a stream cursor per destination.
 *
 * Sensor rooms stay home: nothing of a room created with `m.federate: false` is ever queued.
 */
import type { Logger } from 'pino';
import { serverNameOf } from '../../core/identifiers.js';
import { stateKey, type JsonObject } from '../../core/types.js';
import type { RoomEngine, StoredEvent } from '../../rooms/engine.js';
import type { FederationRequests } from '../requests.js';
import { isServerAllowedByAcl } from './server-acl.js';

const MAX_PDUS_PER_TXN = 50;
const MAX_EDUS_PER_TXN = 100;
/** Per destination: beyond this the oldest PDUs are dropped (the peer pulls gaps with get_missing_events). */
const MAX_QUEUED_PDUS = 1000;
const MAX_QUEUED_EDUS = 500;
const MIN_BACKOFF_MS = 2_000;
const MAX_BACKOFF_MS = 5 * 60_000;
/** Typing notifications older than this are not worth sending. */
const STALE_TYPING_MS = 30_000;

export interface Edu {
  edu_type: string;
  content: JsonObject;
  /** When queued; ephemeral EDUs (typing) expire. */
  queuedAt?: number;
}

interface Destination {
  name: string;
  pdus: JsonObject[];
  edus: Edu[];
  sending: boolean;
  failures: number;
  retryTimer?: NodeJS.Timeout;
  retryAt: number;
}

export interface SenderDeps {
  engine: RoomEngine;
  requests: FederationRequests;
  serverName: string;
  log: Logger;
}

export class FederationSender {
  private readonly destinations = new Map<string, Destination>();
  private txnCounter = 0;
  private readonly txnPrefix = Date.now().toString(36);
  private stopped = false;
  private unsubscribe?: () => void;

  constructor(private readonly deps: SenderDeps) {}

  /** Starts sending every event persisted from now on whose sender is one of ours. */
  start(): void {
    this.unsubscribe = this.deps.engine.onEvent((event) => {
      if (serverNameOf(event.pdu.sender) === this.deps.serverName) void this.sendEvent(event);
    });
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    for (const d of this.destinations.values()) clearTimeout(d.retryTimer);
  }

  /** An event accepted as resident for another server (send_join etc.): the other servers need it too. */
  relay(event: StoredEvent): void {
    void this.sendEvent(event, serverNameOf(event.pdu.sender));
  }

  /** The servers with joined members in a room now (ourselves excluded), filtered by the room's server ACL. */
  async serversInRoom(roomId: string): Promise<string[]> {
    const state = await this.deps.engine.currentState(roomId);
    if (state.get(stateKey('m.room.create', ''))?.pdu.content['m.federate'] === false) return [];
    const acl = state.get(stateKey('m.room.server_acl', ''))?.pdu.content;
    const servers = new Set<string>();
    for (const event of state.values()) {
      if (event.pdu.type !== 'm.room.member' || event.pdu.content.membership !== 'join') continue;
      const server = serverNameOf(event.pdu.state_key ?? '');
      if (server && server !== this.deps.serverName && (!acl || isServerAllowedByAcl(server, acl))) servers.add(server);
    }
    return [...servers];
  }

  private async sendEvent(event: StoredEvent, except?: string): Promise<void> {
    try {
      const servers = new Set(await this.serversInRoom(event.room_id));
      if (servers.size === 0 && !isMembershipOfRemote(event, this.deps.serverName)) return;
      const create = (await this.deps.engine.currentState(event.room_id)).get(stateKey('m.room.create', ''));
      if (create?.pdu.content['m.federate'] === false) return;
      // A member leaving, kicked or banned still hears of it (they are no longer "in the room").
      if (event.pdu.type === 'm.room.member' && event.pdu.content.membership !== 'invite') {
        const target = serverNameOf(event.pdu.state_key ?? '');
        if (target && target !== this.deps.serverName) servers.add(target);
      }
      if (except) servers.delete(except);
      for (const server of servers) this.enqueuePdu(server, event.pdu as unknown as JsonObject);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, eventId: event.event_id }, 'could not queue an event for federation');
    }
  }

  /** Queues an EDU for one destination (typing, receipts, device lists, to-device). */
  sendEdu(destination: string, edu: Edu): void {
    if (destination === this.deps.serverName || this.stopped) return;
    const d = this.destination(destination);
    d.edus.push({ ...edu, queuedAt: Date.now() });
    if (d.edus.length > MAX_QUEUED_EDUS) d.edus.splice(0, d.edus.length - MAX_QUEUED_EDUS);
    this.kick(d);
  }

  /** Retries a destination now (it contacted us, or the network came back). */
  wake(destination: string): void {
    const d = this.destinations.get(destination);
    if (!d || d.sending) return;
    d.failures = 0;
    clearTimeout(d.retryTimer);
    d.retryTimer = undefined;
    this.kick(d);
  }

  /** What is queued, per destination (for status pages and tests). */
  pending(): { destination: string; pdus: number; edus: number; failures: number }[] {
    return [...this.destinations.values()].map((d) => ({ destination: d.name, pdus: d.pdus.length, edus: d.edus.length, failures: d.failures }));
  }

  private enqueuePdu(destination: string, pdu: JsonObject): void {
    if (this.stopped) return;
    const d = this.destination(destination);
    d.pdus.push(pdu);
    if (d.pdus.length > MAX_QUEUED_PDUS) d.pdus.splice(0, d.pdus.length - MAX_QUEUED_PDUS);
    this.kick(d);
  }

  private destination(name: string): Destination {
    let d = this.destinations.get(name);
    if (!d) this.destinations.set(name, (d = { name, pdus: [], edus: [], sending: false, failures: 0, retryAt: 0 }));
    return d;
  }

  private kick(d: Destination): void {
    if (d.sending || d.retryTimer || this.stopped) return;
    void this.flush(d);
  }

  private async flush(d: Destination): Promise<void> {
    d.sending = true;
    try {
      while (!this.stopped && (d.pdus.length > 0 || d.edus.length > 0)) {
        const now = Date.now();
        d.edus = d.edus.filter((e) => e.edu_type !== 'm.typing' || now - (e.queuedAt ?? now) < STALE_TYPING_MS);
        // Taken out while in flight (the queue may be trimmed meanwhile); put back on failure.
        const pdus = d.pdus.splice(0, MAX_PDUS_PER_TXN);
        const edus = d.edus.splice(0, MAX_EDUS_PER_TXN);
        if (pdus.length === 0 && edus.length === 0) break;
        const txnId = `${this.txnPrefix}.${++this.txnCounter}`;
        const body = {
          origin: this.deps.serverName,
          origin_server_ts: now,
          pdus,
          edus: edus.map(({ edu_type, content }) => ({ edu_type, content })),
        };
        try {
          await this.deps.requests.put(d.name, `/_matrix/federation/v1/send/${encodeURIComponent(txnId)}`, body);
        } catch (err) {
          const status = (err as { status?: number }).status;
          // A 4xx other than 429 will never succeed: drop the transaction rather than block the queue.
          if (status !== undefined && status >= 400 && status < 500 && status !== 429) {
            this.deps.log.warn({ destination: d.name, status, err: (err as Error).message }, 'a transaction was refused; dropping it');
            continue;
          }
          d.pdus.unshift(...pdus);
          d.edus.unshift(...edus.filter((e) => e.edu_type !== 'm.typing'));
          d.failures++;
          const delay = Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** Math.min(d.failures - 1, 12)) * (0.5 + Math.random() / 2);
          this.deps.log.info({ destination: d.name, failures: d.failures, retryInMs: Math.round(delay), err: (err as Error).message }, 'federation send failed; will retry');
          d.retryAt = now + delay;
          d.retryTimer = setTimeout(() => {
            d.retryTimer = undefined;
            this.kick(d);
          }, delay);
          d.retryTimer.unref();
          return;
        }
        d.failures = 0;
      }
    } finally {
      d.sending = false;
    }
  }
}

function isMembershipOfRemote(event: StoredEvent, ourName: string): boolean {
  return event.pdu.type === 'm.room.member' && serverNameOf(event.pdu.state_key ?? '') !== ourName;
}
