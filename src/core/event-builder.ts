/**
 * Turning an event we author into a finished PDU (server-server "Adding hashes and signatures
 * to outgoing events"). The room engine calls this for every event it creates.
 */
import { encodeUnpaddedBase64 } from './base64.js';
import { computeContentHash, eventIdFromReferenceHash, referenceJson, sha256 } from './hashes.js';
import type { RoomVersionRules } from './room-versions.js';
import { signBytes } from './signing.js';
import type { Pdu, SigningKey } from './types.js';

/** Everything of a PDU except what finalising adds. */
export type PduTemplate = Omit<Pdu, 'hashes' | 'signatures'>;

export interface FinalizeOptions {
  rules: RoomVersionRules;
  /** Our server name: the key under which the signature is filed. */
  serverName: string;
  key: SigningKey;
}

export interface FinalizedPdu {
  pdu: Pdu;
  eventId: string;
}

/**
 * 1. Compute the content hash over the full template and store it in `hashes.sha256`.
 * 2. Redact the hashed event and drop `signatures`/`unsigned`; encode canonically.
 * 3. Sign those bytes (the signature covers the redacted event, so it survives redaction).
 * 4. Hash the same bytes: that is the reference hash, hence the event id (rooms/v4 "Event IDs").
 * Steps 3 and 4 share one encoding, because the signed form and the reference-hash form of an
 * event are the same object.
 */
export function finalizePdu(template: PduTemplate, { rules, serverName, key }: FinalizeOptions): FinalizedPdu {
  const hashed = { ...template, hashes: { sha256: computeContentHash(template) } };
  const essential = Buffer.from(referenceJson({ ...hashed, signatures: {} }, rules), 'utf8');
  const signature = encodeUnpaddedBase64(signBytes(essential, key));
  const pdu: Pdu = { ...hashed, signatures: { [serverName]: { [key.keyId]: signature } } };
  return { pdu, eventId: eventIdFromReferenceHash(sha256(essential)) };
}
