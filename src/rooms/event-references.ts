/**
 * Authoring in room versions 1 and 2: `prev_events` and `auth_events` name each event with its
 * reference hash, `[event_id, {sha256}]` (rooms/v1 "Event format"). The engine's templates list
 * bare ids; this fills in the hashes from the stored events before the template is signed (or
 * handed to a remote server by `make_join`). From v3 the template is returned unchanged.
 */
import { referencesCarryHashes } from '../core/event-references.js';
import type { PduTemplate } from '../core/event-builder.js';
import { referenceHashBase64 } from '../core/hashes.js';
import type { RoomVersionRules } from '../core/room-versions.js';
import type { EventReference, Pdu } from '../core/types.js';

export type StoredPduLookup = (eventId: string) => Promise<{ pdu: Pdu } | undefined>;

export async function withEventReferences(template: PduTemplate, rules: RoomVersionRules, lookup: StoredPduLookup): Promise<PduTemplate> {
  if (!referencesCarryHashes(rules.eventIdFormat)) return template;
  const pairs = async (references: readonly EventReference[]): Promise<EventReference[]> => {
    const out: EventReference[] = [];
    for (const reference of references) {
      if (typeof reference !== 'string') {
        out.push(reference);
        continue;
      }
      const stored = await lookup(reference);
      // The engine only names events it holds; a gap is a bug, not bad input.
      if (!stored) throw new Error(`cannot reference ${reference}: the event is not stored`);
      out.push([reference, { sha256: referenceHashBase64(stored.pdu, rules) }]);
    }
    return out;
  };
  return { ...template, prev_events: await pairs(template.prev_events), auth_events: await pairs(template.auth_events) };
}
