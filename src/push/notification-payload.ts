/**
 * The body of a push (push gateway API `POST /_matrix/push/v1/notify`) for one event and one
 * pusher. Pure: the pusher service gathers the facts.
 */
import type { Json, JsonObject } from '../core/types.js';

export interface PushedEvent {
  eventId: string;
  roomId: string;
  type: string;
  sender: string;
  content: JsonObject;
  stateKey?: string;
}

export interface PushFacts {
  /** The recipient. */
  userId: string;
  senderDisplayName?: string;
  roomName?: string;
  roomAlias?: string;
  /** The recipient's unread count: rooms with unread notifications (Synapse's default badge). */
  unread: number;
  /** The deciding push rule's `set_tweak`s. */
  tweaks: Record<string, Json>;
}

export interface PusherTarget {
  appId: string;
  pushkey: string;
  pushkeyTs: number;
  /** The pusher's `data` as the client set it. */
  data: JsonObject;
}

export function notificationBody(event: PushedEvent, facts: PushFacts, pusher: PusherTarget): JsonObject {
  // "Servers MUST forward the entire content including `format` and any custom keys but excluding `url`".
  const { url: _url, ...data } = pusher.data;
  const device: JsonObject = { app_id: pusher.appId, pushkey: pusher.pushkey, pushkey_ts: pusher.pushkeyTs, data, tweaks: facts.tweaks };
  // A sound or a highlight asks for attention now; anything else may wait for the battery's sake.
  const prio = facts.tweaks.sound !== undefined || facts.tweaks.highlight === true ? 'high' : 'low';
  // "Counts whose value is zero should be omitted."
  const counts: JsonObject = facts.unread > 0 ? { unread: facts.unread } : {};
  const notification: JsonObject = { event_id: event.eventId, room_id: event.roomId, counts, prio, devices: [device] };
  if (pusher.data.format !== 'event_id_only') {
    notification.type = event.type;
    notification.sender = event.sender;
    notification.content = event.content;
    if (facts.senderDisplayName !== undefined) notification.sender_display_name = facts.senderDisplayName;
    if (facts.roomName !== undefined) notification.room_name = facts.roomName;
    if (facts.roomAlias !== undefined) notification.room_alias = facts.roomAlias;
    if (event.type === 'm.room.member') notification.user_is_target = event.stateKey === facts.userId;
  }
  return { notification };
}

/**
 * A badge update: no event, only the counts ("It may be omitted for notifications that only contain
 * updated badge counts"), sent when the user read something elsewhere so the phone's badge follows.
 */
export function badgeBody(unread: number, pusher: PusherTarget): JsonObject {
  const { url: _url, ...data } = pusher.data;
  return {
    notification: {
      counts: unread > 0 ? { unread } : {},
      prio: 'low',
      devices: [{ app_id: pusher.appId, pushkey: pusher.pushkey, pushkey_ts: pusher.pushkeyTs, data }],
    },
  };
}

/** The pushkeys a gateway's answer rejects (they are to be removed). */
export function rejectedPushkeys(answer: unknown): string[] {
  if (typeof answer !== 'object' || answer === null) return [];
  const rejected = (answer as { rejected?: unknown }).rejected;
  return Array.isArray(rejected) ? rejected.filter((k): k is string => typeof k === 'string') : [];
}
