/**
 * Events as clients see them (client-server-api "Room Event Format" / "ClientEvent"): the PDU's
 * client-visible fields plus `unsigned` (age, transaction_id for the sending device only,
 * prev_content for state, redacted_because, and the bundled aggregations `m.relations`). Redacted
 * events are served redacted.
 */
import type { JsonObject } from '../core/types.js';
import { redactPdu } from '../core/redaction.js';
import type { RoomEngine, StoredEvent } from './engine.js';
import { RelationReader } from './relations.js';
import { roomReaderFor, type IgnoredUsersLookup, type RoomReader } from './visibility.js';

export interface ClientEvent {
  content: JsonObject;
  event_id: string;
  origin_server_ts: number;
  room_id: string;
  sender: string;
  type: string;
  state_key?: string;
  redacts?: string;
  unsigned: JsonObject;
}

/** The device asking, so its own transaction ids can be echoed. */
export interface Viewer {
  userId: string;
  deviceId?: string;
}

export interface FormatOptions {
  omitRoomId?: boolean;
  /**
   * Bundle aggregations (client-server "Aggregations of child events"; default true). /sync asks
   * for them only in `limited` timelines, as the spec lists it.
   */
  aggregations?: boolean;
  /** The viewer's history-visibility view of the room, when the caller has one (else built on demand). */
  reader?: RoomReader;
  /**
   * A filter's `event_format` (client-server "Filtering"): `federation` is "the raw event as
   * received over federation" - the PDU as stored (redacted when it was), with its event id and the
   * same `unsigned` as the client format, as Synapse serves it. Default `client`.
   */
  eventFormat?: 'client' | 'federation';
}

export class EventFormatter {
  readonly relations: RelationReader;

  constructor(
    private readonly engine: RoomEngine,
    private readonly ignoredUsersOf?: IgnoredUsersLookup,
    /** Users deactivated with `erase`, by the stream position of the erasure. */
    private readonly erasedUsers?: () => Promise<ReadonlyMap<string, number>>,
  ) {
    this.relations = new RelationReader(engine);
  }

  private async readerFor(userId: string, roomId: string): Promise<RoomReader> {
    return roomReaderFor(this.engine, userId, roomId, await this.ignoredUsersOf?.(userId));
  }

  async format(event: StoredEvent, viewer?: Viewer, opts: FormatOptions = {}): Promise<ClientEvent> {
    return this.formatAt(event, viewer, opts, 0);
  }

  formatAll(events: StoredEvent[], viewer?: Viewer, opts: FormatOptions = {}): Promise<ClientEvent[]> {
    if (events.some((e) => e.meta.related) && viewer && !opts.reader && opts.aggregations !== false) {
      // One reader for the whole list (it caches the state it looks up).
      const roomId = events[0]!.room_id;
      if (events.every((e) => e.room_id === roomId)) {
        return this.readerFor(viewer.userId, roomId).then((reader) => Promise.all(events.map((e) => this.formatAt(e, viewer, { ...opts, reader }, 0))));
      }
    }
    return Promise.all(events.map((e) => this.formatAt(e, viewer, opts, 0)));
  }

  /** `depth` counts nested formatting: a thread's latest event gets its own aggregations, no deeper. */
  private async formatAt(event: StoredEvent, viewer: Viewer | undefined, opts: FormatOptions, depth: number): Promise<ClientEvent> {
    const room = this.engine.room(event.room_id);
    const rules = room ? this.engine.rulesOf(room) : undefined;
    const redactedBy = event.meta.redactedBy;
    const erased = !redactedBy && (await this.erasedFor(event, viewer, opts));
    const pdu = (redactedBy || erased) && rules ? redactPdu(event.pdu, rules) : event.pdu;
    const unsigned: JsonObject = { age: Math.max(0, Date.now() - event.pdu.origin_server_ts) };
    const txn = event.meta.txn;
    if (txn && viewer && txn.userId === viewer.userId && txn.deviceId === viewer.deviceId) {
      unsigned.transaction_id = txn.txnId;
    }
    if (event.meta.replaces) {
      const previous = await this.engine.getEvent(event.meta.replaces);
      if (previous) {
        unsigned.replaces_state = previous.event_id;
        unsigned.prev_sender = previous.pdu.sender;
        unsigned.prev_content = previous.meta.redactedBy && rules ? redactPdu(previous.pdu, rules).content : previous.pdu.content;
      }
    }
    if (redactedBy) {
      const redaction = await this.engine.getEvent(redactedBy);
      if (redaction) unsigned.redacted_because = (await this.formatAt(redaction, viewer, { aggregations: false, eventFormat: opts.eventFormat }, depth + 1)) as unknown as JsonObject;
    }
    if (event.meta.related && opts.aggregations !== false && depth < 2) {
      const relations = await this.bundle(event, viewer, opts, depth);
      if (relations) unsigned['m.relations'] = relations;
    }
    if (opts.eventFormat === 'federation') return { ...pdu, event_id: event.event_id, unsigned } as ClientEvent;
    const out: ClientEvent = {
      content: pdu.content,
      event_id: event.event_id,
      origin_server_ts: pdu.origin_server_ts,
      room_id: event.room_id,
      sender: pdu.sender,
      type: pdu.type,
      unsigned,
    };
    if (pdu.state_key !== undefined) out.state_key = pdu.state_key;
    // rooms/v11 moved `redacts` into content; clients of older versions read the top-level key,
    // so serve both (client-server "m.room.redaction").
    const redacts = pdu.redacts ?? (typeof pdu.content.redacts === 'string' ? pdu.content.redacts : undefined);
    if (pdu.type === 'm.room.redaction' && redacts) out.redacts = redacts;
    if (opts.omitRoomId) delete (out as Partial<ClientEvent>).room_id;
    return out;
  }

  /**
   * Whether the viewer gets the event redacted because its sender was erased (account deactivation
   * with `erase`): "any users ... which join the room after the erasure request are served redacted
   * copies of the events sent by this account. Users which had visibility on those events prior to
   * the erasure are still able to see unredacted copies" - judged by the viewer's last join.
   */
  private async erasedFor(event: StoredEvent, viewer: Viewer | undefined, opts: FormatOptions): Promise<boolean> {
    if (!viewer || !this.erasedUsers || viewer.userId === event.pdu.sender) return false;
    const erasedAt = (await this.erasedUsers()).get(event.pdu.sender);
    if (erasedAt === undefined) return false;
    const reader = opts.reader ?? (await this.readerFor(viewer.userId, event.room_id));
    return reader.lastJoin === undefined || reader.lastJoin > erasedAt;
  }

  /** `unsigned["m.relations"]` of an event, in the formats of the relation types' modules. */
  private async bundle(event: StoredEvent, viewer: Viewer | undefined, opts: FormatOptions, depth: number): Promise<JsonObject | undefined> {
    const reader = opts.reader ?? (viewer ? await this.readerFor(viewer.userId, event.room_id) : undefined);
    const found = await this.relations.aggregate(event, viewer?.userId, reader);
    if (!found) return undefined;
    const out: JsonObject = {};
    if (found.thread) {
      const { latest, count, currentUserParticipated } = found.thread;
      out['m.thread'] = {
        latest_event: (await this.formatAt(latest, viewer, { reader, eventFormat: opts.eventFormat }, depth + 1)) as unknown as JsonObject,
        count,
        current_user_participated: currentUserParticipated,
      };
    }
    if (found.replace) out['m.replace'] = (await this.formatAt(found.replace, viewer, { reader, aggregations: false, eventFormat: opts.eventFormat }, depth + 1)) as unknown as JsonObject;
    if (found.references) out['m.reference'] = { chunk: found.references.map((id) => ({ event_id: id })) };
    return out;
  }
}
