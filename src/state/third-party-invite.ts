/**
 * The third-party invite branch of the membership rules: rooms/v10-v11 auth rule 4.4.1
 * (v12: 5.4.1). An invite that carries `content.third_party_invite` is allowed on the strength of
 * an identity server's signature over `{mxid, token}`, checked against the public keys that the
 * inviter published in the matching `m.room.third_party_invite` state event.
 */
import type { Json, RoomEvent, StateEventMap } from '../core/types.js';
import { stateKey } from '../core/types.js';
import { decodeBase64 } from '../core/base64.js';
import { verifyJsonSignature } from '../core/signing.js';
import type { AuthResult } from './auth-result.js';
import { allow, reject } from './auth-result.js';
import { THIRD_PARTY_INVITE, getMembership } from './room-state.js';
import { isJsonObject } from '../core/json-object.js';

export function checkThirdPartyInvite(event: RoomEvent, target: string, authState: StateEventMap): AuthResult {
  const thirdParty = event.pdu.content.third_party_invite;
  // 1. If the target user is banned, reject.
  if (getMembership(authState, target) === 'ban') return reject('third-party invite target is banned');
  // 2. If content.third_party_invite has no `signed` property, reject.
  const signed = isJsonObject(thirdParty) ? thirdParty.signed : undefined;
  if (!isJsonObject(signed)) return reject('third_party_invite has no signed object');
  // 3. If `signed` lacks `mxid` or `token`, reject.
  const { mxid, token } = signed;
  if (typeof mxid !== 'string' || typeof token !== 'string') return reject('signed lacks mxid or token');
  // 4. If `mxid` does not match the state_key, reject.
  if (mxid !== target) return reject('signed.mxid does not match state_key');
  // 5. If there is no m.room.third_party_invite with state_key `token` in the state, reject.
  const inviteEvent = authState.get(stateKey(THIRD_PARTY_INVITE, token));
  if (!inviteEvent) return reject('no m.room.third_party_invite for the token');
  // 6. If the sender differs from the m.room.third_party_invite sender, reject.
  if (inviteEvent.pdu.sender !== event.pdu.sender) return reject('sender did not issue the third-party invite');
  // 7. If any signature in `signed` verifies with any public key of the invite event, allow.
  const publicKeys = publicKeysOf(inviteEvent.pdu.content);
  if (anySignatureVerifies(signed, publicKeys)) return allow();
  // 8. Otherwise, reject.
  return reject('no valid signature on the third-party invite');
}

/** 7.1 `public_key` and 7.2 each `public_keys[].public_key` (unpadded base64). */
function publicKeysOf(content: Record<string, Json>): Uint8Array[] {
  const encoded: string[] = [];
  if (typeof content.public_key === 'string') encoded.push(content.public_key);
  if (Array.isArray(content.public_keys)) {
    for (const entry of content.public_keys) {
      if (isJsonObject(entry) && typeof entry.public_key === 'string') encoded.push(entry.public_key);
    }
  }
  const keys: Uint8Array[] = [];
  for (const text of encoded) {
    try {
      keys.push(decodeBase64(text));
    } catch {
      // An undecodable key can verify nothing; the other keys may still match.
    }
  }
  return keys;
}

function anySignatureVerifies(signed: Record<string, Json>, publicKeys: Uint8Array[]): boolean {
  const signatures = signed.signatures;
  if (!isJsonObject(signatures)) return false;
  for (const [signer, byKeyId] of Object.entries(signatures)) {
    if (!isJsonObject(byKeyId)) continue;
    for (const keyId of Object.keys(byKeyId)) {
      if (publicKeys.some((publicKey) => verifyJsonSignature(signed, signer, keyId, publicKey))) return true;
    }
  }
  return false;
}
