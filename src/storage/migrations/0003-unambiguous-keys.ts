/**
 * Storage version 2 -> 3: tuple keys unambiguous by construction, and transaction ids scoped per
 * endpoint.
 *
 * Up to version 2 a string inside a tuple key was its UTF-8 bytes followed by 0x00, so a string that
 * itself contained NUL made keys that more than one tuple could have written (`("a\0", "b")` and
 * `("a", "\0b")` both gave `a 00 00 b 00`), and the reader split at the first NUL: a state event of
 * type `m.room.power_levels\0` came back after a restart as the room's power levels. Version 3
 * escapes 0x00 and 0x01 inside strings (codec.ts); strings without those bytes (every legitimate
 * Matrix id) are encoded as before, so only the keys holding a 0x00 or 0x01 inside a string move.
 *
 * For each tuple key space this reads every key, finds the strings the writer meant, and rewrites
 * the key when its new encoding differs:
 *  - a key with exactly one reading is re-encoded as read;
 *  - an ambiguous key (a NUL inside a string) is resolved from what the value says where it can: the
 *    `(type, state_key)` of the state events stored under a state-key short, the `txn` of the event
 *    a transaction id names; otherwise the reading the old code used (split at the first NUL).
 * `txn_ids` keys gain the endpoint scope (client-server "Transaction identifiers": per device and
 * per endpoint): `send ‖ room ‖ event type`, or `redact ‖ room ‖ redacted event` for redactions.
 */
import type { Pdu } from '../../core/types.js';
import { stateKey } from '../../core/types.js';
import { decodeJson, readU32, tuple, u32, type KeyPart } from '../codec.js';
import type { BatchOp, Database } from '../db.js';
import type { EventMeta } from '../events.js';
import type { KeyspaceName } from '../keyspaces.js';
import { txnKey, txnEndpoint } from '../rooms.js';

/** A tuple layout: `s` a string, a number a fixed-width binary part of that many bytes. */
type Layout = readonly ('s' | number)[];

/** Every key space whose keys are tuples with string parts (docs/storage.md), but `txn_ids`. */
export const TUPLE_LAYOUTS: Partial<Record<KeyspaceName, Layout>> = {
  stateKeyShort: ['s', 's'],
  userRooms: ['s', 's'],
  users: ['s'],
  devices: ['s', 's'],
  accountData: ['s', 's', 's'],
  filters: ['s', 's'],
  pushRules: ['s'],
  receipts: ['s', 's', 's', 's'],
  pushers: ['s', 's', 's'],
  toDevice: ['s', 's', 8],
  e2eDeviceKeys: ['s', 's'],
  e2eOneTimeKeys: ['s', 's', 's'],
  e2eFallbackKeys: ['s', 's', 's'],
  e2eCrossSigning: ['s', 's'],
  e2eRoomKeyVersions: ['s', 4],
  e2eRoomKeys: ['s', 4, 's', 's'],
  mqttDevices: ['s'],
  mqttSessions: ['s'],
  mqttOffline: ['s', 8],
  mqttClientOwners: ['s'],
  bridgeDevices: ['s'],
  telemetryStreams: ['s'],
};

/** Readings of one key tried at most (a key with many NULs has exponentially many). */
const MAX_READINGS = 64;
/** Operations per batch: bounded memory on a gateway with a long history. */
const BATCH_OPS = 2000;

/**
 * The ways a version-2 key can be read with `layout`: each string ends at some 0x00, each binary
 * part has its width, and the parts fill the key exactly. In the order the old reader preferred
 * (earliest NULs first).
 */
export function readingsOfV2Key(key: Buffer, layout: Layout): KeyPart[][] {
  const out: KeyPart[][] = [];
  const walk = (at: number, i: number, parts: KeyPart[]): void => {
    if (out.length >= MAX_READINGS) return;
    if (i === layout.length) {
      if (at === key.length) out.push(parts);
      return;
    }
    const part = layout[i]!;
    if (part !== 's') {
      if (at + part <= key.length) walk(at + part, i + 1, [...parts, Buffer.from(key.subarray(at, at + part))]);
      return;
    }
    for (let end = key.indexOf(0, at); end >= 0; end = key.indexOf(0, end + 1)) {
      walk(end + 1, i + 1, [...parts, key.toString('utf8', at, end)]);
    }
  };
  walk(0, 0, []);
  return out;
}

/** The version-2 encoding of a tuple: strings as raw UTF-8 plus 0x00. */
function v2Tuple(parts: KeyPart[]): Buffer {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.concat([Buffer.from(p, 'utf8'), Buffer.from([0])]) : p)));
}

export async function unambiguousKeys(db: Database): Promise<void> {
  let ops: BatchOp[] = [];
  const flush = async () => {
    if (ops.length > 0) await db.write(ops);
    ops = [];
  };
  const stateKeyParts = await stateKeysFromEvents(db);
  for (const [name, layout] of Object.entries(TUPLE_LAYOUTS) as [KeyspaceName, Layout][]) {
    for await (const [rawKey, value] of db.space(name).iterator()) {
      const key = Buffer.from(rawKey);
      const readings = readingsOfV2Key(key, layout);
      if (readings.length === 0) continue; // not a tuple of this layout (never written so): leave it
      let parts = readings[0]!;
      if (readings.length > 1 && name === 'stateKeyShort') {
        const meant = stateKeyParts.get(readU32(value));
        const match = meant && readings.find((r) => r[0] === meant[0] && r[1] === meant[1]);
        if (match) parts = match;
      }
      const encoded = tuple(...parts);
      if (encoded.equals(key)) continue;
      ops.push(db.del(name, key), db.put(name, encoded, Buffer.from(value)));
      // The reverse index of state keys carries the same tuple as its value.
      if (name === 'stateKeyShort') ops.push(db.put('stateKeyByShort', u32(readU32(value)), encoded));
      if (ops.length >= BATCH_OPS) await flush();
    }
    await flush();
  }
  await scopeTxnIds(db, ops);
  await flush();
}

/**
 * For the state-key shorts whose key is ambiguous, the `(type, state_key)` their events really
 * have. Only read when some key has a NUL inside a string (an attack, or a bug): scanning every
 * state event is then worth it.
 */
async function stateKeysFromEvents(db: Database): Promise<Map<number, [string, string]>> {
  const ambiguous = new Map<string, number>();
  for await (const [rawKey, value] of db.space('stateKeyShort').iterator()) {
    if (readingsOfV2Key(Buffer.from(rawKey), ['s', 's']).length > 1) ambiguous.set(Buffer.from(rawKey).toString('latin1'), readU32(value));
  }
  const out = new Map<number, [string, string]>();
  if (ambiguous.size === 0) return out;
  for await (const json of db.space('eventJson').values()) {
    const pdu = decodeJson<Pdu>(json);
    if (typeof pdu.state_key !== 'string') continue;
    const short = ambiguous.get(v2Tuple([pdu.type, pdu.state_key]).toString('latin1'));
    // The first event interned the pair; later ones with the same old key were read as it anyway.
    if (short !== undefined && !out.has(short)) out.set(short, [pdu.type, pdu.state_key]);
  }
  return out;
}

/** `txn_ids`: `user ‖ device ‖ txn` -> `user ‖ device ‖ endpoint… ‖ txn`, from the event each names. */
async function scopeTxnIds(db: Database, ops: BatchOp[]): Promise<void> {
  for await (const [rawKey, value] of db.space('txnIds').iterator()) {
    const key = Buffer.from(rawKey);
    const eventId = Buffer.from(value).toString('utf8');
    const shortBuf = await db.space('eventShortById').get(Buffer.from(eventId, 'utf8'));
    const [metaBuf, jsonBuf] =
      shortBuf === undefined ? [undefined, undefined] : await Promise.all([db.space('eventMeta').get(shortBuf), db.space('eventJson').get(shortBuf)]);
    ops.push(db.del('txnIds', key));
    if (metaBuf === undefined || jsonBuf === undefined) continue; // names no stored event: nothing to replay
    const meta = decodeJson<EventMeta>(metaBuf);
    const pdu = decodeJson<Pdu>(jsonBuf);
    const roomId = pdu.room_id ?? '';
    const readings = readingsOfV2Key(key, ['s', 's', 's']);
    const [userId, deviceId, txnId] = meta.txn ? [meta.txn.userId, meta.txn.deviceId, meta.txn.txnId] : (readings[0] as string[] | undefined) ?? [];
    if (userId === undefined || deviceId === undefined || txnId === undefined) continue;
    const redacts = pdu.type === 'm.room.redaction' ? (typeof pdu.content.redacts === 'string' ? pdu.content.redacts : pdu.redacts) : undefined;
    ops.push(db.put('txnIds', txnKey(userId, deviceId, txnEndpoint(roomId, { type: pdu.type, redacts }), txnId), Buffer.from(value)));
  }
}
