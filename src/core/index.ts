/** The pure protocol core: everything here is free of I/O. */
export * from './types.js';
export { type CanonicalJsonOptions, CanonicalJsonError, canonicalJson } from './canonical-json.js';
export { Base64Error, decodeBase64, encodeUnpaddedBase64, encodeUrlSafeBase64 } from './base64.js';
export {
  type Signatures,
  addSignature,
  generateSigningKey,
  signBytes,
  signJson,
  signableBytes,
  signingKeyFromSeed,
  verifyBytes,
  verifyJsonSignature,
} from './signing.js';
export {
  addContentHash,
  computeContentHash,
  computeEventId,
  computeReferenceHash,
  computeRoomIdFromCreateEvent,
  eventCanonicalJson,
  eventIdFromReferenceHash,
  hasValidContentHash,
  referenceHashBase64,
  referenceJson,
  sha256,
} from './hashes.js';
export {
  type EventIdFormat,
  type RedactionAlgorithm,
  type RoomVersionRules,
  DEFAULT_ROOM_VERSION,
  SUPPORTED_ROOM_VERSIONS,
  getRoomVersionRules,
  isSupportedRoomVersion,
} from './room-versions.js';
export { isJsonObject } from './json-object.js';
export { redactPdu } from './redaction.js';
export {
  type ServerName,
  type UserId,
  MAX_IDENTIFIER_BYTES,
  isCompliantUserId,
  isValidEventId,
  isValidNewLocalpart,
  isValidRoomAlias,
  isValidRoomId,
  isValidServerName,
  isValidUserId,
  parseServerName,
  parseUserId,
  serverNameOf,
} from './identifiers.js';
export { type FinalizeOptions, type FinalizedPdu, type PduTemplate, finalizePdu, newServerEventId } from './event-builder.js';
export { authEventIds, prevEventIds, referencedEventIds, referencesCarryHashes, toEventReferences } from './event-references.js';
export { verifyEventSignature } from './event-verification.js';
export { toRoomEvent } from './room-event.js';
