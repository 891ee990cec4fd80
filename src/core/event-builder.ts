/**
 * Turning an event we author into a finished PDU (server-server "Adding hashes and signatures
 * to outgoing events"). The room engine calls this for every event it creates.
 */
import { randomInt } from 'node:crypto';
import { encodeUnpaddedBase64 } from './base64.js';
import { referencesCarryHashes, toEventReferences } from './event-references.js';
import { computeContentHash, eventIdFromReferenceHash, referenceJson, sha256 } from './hashes.js';
import type { RoomVersionRules } from './room-versions.js';
import { signBytes } from './signing.js';
import type { EventReference, Pdu, SigningKey } from './types.js';

/** Everything of a PDU except what finalising adds. */
export type PduTemplate = Omit<Pdu, 'hashes' | 'signatures'>;

export interface FinalizeOptions {
  rules: RoomVersionRules;
  /** Our server name: the key under which the signature is filed, and the domain of v1/v2 event ids. */
  serverName: string;
  key: SigningKey;
  /**
   * Room versions 1 and 2: the reference hash (unpadded base64) of each event the template's
   * `prev_events`/`auth_events` name by bare id, to write them as `[id, {sha256}]` pairs.
   * Entries that already are pairs are kept. Not consulted for v3+.
   */
  referenceHashOf?: (eventId: string) => string | undefined;
}

export interface FinalizedPdu {
  pdu: Pdu;
  eventId: string;
}

/**
 * 0. Room versions 1 and 2 only (rooms/v1 "Event IDs", "Event format"): give the event an id of our
 *    own, `$opaque:serverName`, unless the template has one, and write `prev_events`/`auth_events`
 *    as `[id, {sha256}]` pairs. Both are hashed and signed like the rest.
 * 1. Compute the content hash over the full template and store it in `hashes.sha256`.
 * 2. Redact the hashed event and drop `signatures`/`unsigned`; encode canonically.
 * 3. Sign those bytes (the signature covers the redacted event, so it survives redaction).
 * 4. From v3, hash the same bytes: that is the reference hash, hence the event id (rooms/v3 and
 *    v4 "Event IDs"). Steps 3 and 4 share one encoding, because the signed form and the
 *    reference-hash form of an event are the same object.
 */
export function finalizePdu(template: PduTemplate, { rules, serverName, key, referenceHashOf }: FinalizeOptions): FinalizedPdu {
  const complete = referencesCarryHashes(rules.eventIdFormat) ? withV1Identity(template, rules, serverName, referenceHashOf) : template;
  const hashed = { ...complete, hashes: { sha256: computeContentHash(complete, rules) } };
  const essential = Buffer.from(referenceJson({ ...hashed, signatures: {} }, rules), 'utf8');
  const signature = encodeUnpaddedBase64(signBytes(essential, key));
  const pdu: Pdu = { ...hashed, signatures: { [serverName]: { [key.keyId]: signature } } };
  const eventId = rules.eventIdFormat === 'server-generated' ? (complete.event_id as string) : eventIdFromReferenceHash(sha256(essential), rules);
  return { pdu, eventId };
}

function withV1Identity(
  template: PduTemplate,
  rules: RoomVersionRules,
  serverName: string,
  referenceHashOf: FinalizeOptions['referenceHashOf'],
): PduTemplate {
  const lookup = referenceHashOf ?? (() => undefined);
  const pairs = (references: readonly EventReference[]): EventReference[] =>
    references.map((reference) => (typeof reference === 'string' ? toEventReferences([reference], rules, lookup)[0]! : reference));
  // The id is ours to choose and must name our server (rooms/v3 preamble: v1/v2 events need a
  // signature from the event id's server). A template from elsewhere (a remote `make_join`) may
  // carry the other server's id: it is replaced.
  const carried = template.event_id;
  const ours = typeof carried === 'string' && carried.slice(carried.indexOf(':') + 1) === serverName && carried.includes(':');
  const complete: PduTemplate = { ...template, event_id: ours ? carried : newServerEventId(serverName) };
  // (The appendix test events have neither list; a template without one is signed as given.)
  if (Array.isArray(template.prev_events)) complete.prev_events = pairs(template.prev_events);
  if (Array.isArray(template.auth_events)) complete.auth_events = pairs(template.auth_events);
  return complete;
}

const OPAQUE_ALPHABET = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * rooms/v1 "Event IDs": `$opaque_id:domain`, the opaque part locally unique. 18 random letters
 * (~100 bits) make a clash as unlikely as a hash collision, with no counter to persist.
 */
export function newServerEventId(serverName: string): string {
  let opaque = '';
  for (let i = 0; i < 18; i++) opaque += OPAQUE_ALPHABET[randomInt(OPAQUE_ALPHABET.length)];
  return `$${opaque}:${serverName}`;
}
