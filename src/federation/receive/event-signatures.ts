/**
 * Signature checks on received events (server-server "Validating hashes and signatures on
 * received events"; rooms/v5 "Signing key validity period"): every server that must sign the
 * event did, with a key that was valid when the event was sent. A failure drops the event.
 */
import { verifyEventSignature } from '../../core/event-verification.js';
import type { RoomVersionRules } from '../../core/room-versions.js';
import type { Pdu } from '../../core/types.js';
import { requiredSigners } from './pdu-format.js';

/** Where the public keys of other servers come from (the remote key store). */
export interface ServerKeyLookup {
  /**
   * The public key `keyId` of `serverName` if it was valid at `atTs` (for room versions with key
   * validity periods the store judges `valid_until_ts` against it), undefined when unknown or expired.
   */
  publicKey(serverName: string, keyId: string, atTs: number, rules: RoomVersionRules): Promise<Uint8Array | undefined>;
}

/**
 * Why the event's signatures do not hold, or undefined when they do. `signers` defaults to the
 * servers that must sign any event; an invite's sender also checks the invitee's server signed it.
 */
export async function checkEventSignatures(pdu: Pdu, eventId: string, rules: RoomVersionRules, keys: ServerKeyLookup, signers = requiredSigners(pdu, eventId, rules)): Promise<string | undefined> {
  for (const server of signers) {
    const signatures = pdu.signatures?.[server];
    if (!signatures || typeof signatures !== 'object') return `no signature of ${server}`;
    let verified = false;
    for (const [keyId, signature] of Object.entries(signatures)) {
      if (!keyId.startsWith('ed25519:') || typeof signature !== 'string') continue;
      const key = await keys.publicKey(server, keyId, pdu.origin_server_ts, rules);
      if (key && verifyEventSignature(pdu, rules, server, keyId, key)) {
        verified = true;
        break;
      }
    }
    if (!verified) return `no valid signature of ${server}`;
  }
  return undefined;
}
