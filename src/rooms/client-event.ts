/**
 * Events as clients see them (client-server-api "Room Event Format" / "ClientEvent"): the PDU's
 * client-visible fields plus `unsigned` (age, transaction_id for the sending device only,
 * prev_content for state, redacted_because). Redacted events are served redacted.
 */
import type { JsonObject } from '../core/types.js';
import { redactPdu } from '../core/redaction.js';
import type { RoomEngine, StoredEvent } from './engine.js';

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

export class EventFormatter {
  constructor(private readonly engine: RoomEngine) {}

  async format(event: StoredEvent, viewer?: Viewer, opts: { omitRoomId?: boolean } = {}): Promise<ClientEvent> {
    const room = this.engine.room(event.room_id);
    const rules = room ? this.engine.rulesOf(room) : undefined;
    const redactedBy = event.meta.redactedBy;
    const pdu = redactedBy && rules ? redactPdu(event.pdu, rules) : event.pdu;
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
      if (redaction) unsigned.redacted_because = (await this.format(redaction, viewer)) as unknown as JsonObject;
    }
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

  formatAll(events: StoredEvent[], viewer?: Viewer, opts: { omitRoomId?: boolean } = {}): Promise<ClientEvent[]> {
    return Promise.all(events.map((e) => this.format(e, viewer, opts)));
  }
}
