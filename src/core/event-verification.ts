/**
 * Checking the signatures on a received event (server-server "Validating hashes and signatures
 * on received events"). The content hash check is `hasValidContentHash` in hashes.ts.
 */
import { redactPdu } from './redaction.js';
import type { RoomVersionRules } from './room-versions.js';
import { verifyJsonSignature } from './signing.js';
import type { JsonObject, Pdu } from './types.js';

/**
 * Whether `serverName` signed the event with `keyId`. The signature covers the redacted event,
 * so this holds for the full event and for a redacted copy alike.
 */
export function verifyEventSignature(
  pdu: Pdu | JsonObject,
  rules: RoomVersionRules,
  serverName: string,
  keyId: string,
  publicKey: Uint8Array,
): boolean {
  return verifyJsonSignature(redactPdu(pdu as JsonObject, rules), serverName, keyId, publicKey);
}
