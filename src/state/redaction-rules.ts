/**
 * Whether a redaction takes effect on the event it names. Room versions 1 and 2 decide it in the
 * auth rules (rooms/v1 auth rule 11: the redact level, or the redacted event id of the redaction's
 * event id domain), so an accepted redaction applies. From v3 the auth rules accept every
 * redaction, and rooms/v3 "Handling redactions" decides when it is applied: the sender reaches
 * the redact level, or the sender's domain is the redacted event's sender's domain. Until both
 * events are known and this holds, the redaction is kept but not applied (nor sent to clients).
 */
import { serverNameOf } from '../core/identifiers.js';
import type { RoomVersionRules } from '../core/room-versions.js';
import type { Pdu, RoomEvent, StateEventMap } from '../core/types.js';
import { canUserDo } from './power-levels.js';

/** The event a redaction names: `content.redacts` from v11, the top-level `redacts` before. */
export function redactedEventId(pdu: Pdu, rules: RoomVersionRules): string | undefined {
  const redacts = rules.redactsInContent ? pdu.content.redacts : pdu.redacts;
  return typeof redacts === 'string' ? redacts : undefined;
}

/**
 * `redaction` is an accepted `m.room.redaction`, `target` the event it names, `state` the state
 * before the redaction (whose power levels give the redact level).
 */
export function redactionApplies(redaction: RoomEvent, target: RoomEvent, state: StateEventMap, rules: RoomVersionRules): boolean {
  if (redaction.pdu.type !== 'm.room.redaction' || redactedEventId(redaction.pdu, rules) !== target.event_id) return false;
  if (target.room_id !== redaction.room_id) return false;
  if (rules.redactionAuthRule) return true;
  if (canUserDo('redact', redaction.pdu.sender, state, rules)) return true;
  const domain = serverNameOf(redaction.pdu.sender);
  return domain !== undefined && domain === serverNameOf(target.pdu.sender);
}
