/**
 * Shape checks for the key objects of the Key management and Cross-signing APIs (OpenAPI
 * `definitions/device_keys.yaml`, `one_time_keys.yaml`, `cross_signing_key.yaml`). Pure: they
 * either return a typed view of the input or throw the 400 to send back.
 */
import type { Json, JsonObject } from '../core/types.js';
import { isJsonObject } from '../core/json-object.js';
import { badJson } from '../core/errors.js';
import type { CrossSigningUsage, KeyObject } from '../storage/e2ee.js';

export interface DeviceKeys extends JsonObject {
  user_id: string;
  device_id: string;
  algorithms: string[];
  keys: Record<string, string>;
  signatures: Record<string, Record<string, string>>;
}

export interface CrossSigningKey extends JsonObject {
  user_id: string;
  usage: string[];
  keys: Record<string, string>;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function isStringMap(value: unknown): value is Record<string, string> {
  return isJsonObject(value) && Object.values(value).every((v) => typeof v === 'string');
}

function isSignatures(value: unknown): value is Record<string, Record<string, string>> {
  return isJsonObject(value) && Object.values(value).every(isStringMap);
}

/** An optional object-valued field of a request body (absent -> undefined). */
export function optionalObject(body: JsonObject, field: string): JsonObject | undefined {
  const value = body[field];
  if (value === undefined) return undefined;
  if (!isJsonObject(value)) throw badJson(`${field} must be an object`);
  return value;
}

/** DeviceKeys: `user_id`, `device_id`, `algorithms`, `keys`, `signatures` are all required. */
export function parseDeviceKeys(raw: JsonObject): DeviceKeys {
  if (typeof raw.user_id !== 'string' || typeof raw.device_id !== 'string') {
    throw badJson('device_keys needs user_id and device_id strings');
  }
  if (!isStringArray(raw.algorithms)) throw badJson('device_keys.algorithms must be an array of strings');
  if (!isStringMap(raw.keys)) throw badJson('device_keys.keys must map key ids to strings');
  if (!isSignatures(raw.signatures)) throw badJson('device_keys.signatures must map user ids to key ids to strings');
  return raw as DeviceKeys;
}

/**
 * A map of one-time or fallback keys: `<algorithm>:<key_id>` -> key, where a key is a signed object
 * (`signed_curve25519`) or a bare string (the older unsigned `curve25519`).
 */
export function parseKeyMap(raw: JsonObject, field: string): Map<string, { algorithm: string; keyId: string; key: KeyObject }> {
  const out = new Map<string, { algorithm: string; keyId: string; key: KeyObject }>();
  for (const [name, key] of Object.entries(raw)) {
    const colon = name.indexOf(':');
    if (colon <= 0 || colon === name.length - 1) throw badJson(`${field}: key name ${name} is not <algorithm>:<key_id>`);
    if (typeof key !== 'string' && !isJsonObject(key)) throw badJson(`${field}.${name} must be an object or a string`);
    out.set(name, { algorithm: name.slice(0, colon), keyId: name.slice(colon + 1), key: key as Json });
  }
  return out;
}

/**
 * CrossSigningKey of a given usage: `user_id`, `usage` containing the usage, and `keys` with exactly
 * one `ed25519:<public key>` entry whose value is that public key. Returns the unpadded base64 key.
 */
export function parseCrossSigningKey(raw: unknown, usage: CrossSigningUsage, field: string): { key: CrossSigningKey; publicKey: string } {
  if (!isJsonObject(raw)) throw badJson(`${field} must be an object`);
  if (typeof raw.user_id !== 'string') throw badJson(`${field}.user_id must be a string`);
  if (!isStringArray(raw.usage) || !raw.usage.includes(usage)) throw badJson(`${field}.usage must contain ${usage}`);
  if (!isStringMap(raw.keys)) throw badJson(`${field}.keys must map a key id to a key`);
  const entries = Object.entries(raw.keys);
  if (entries.length !== 1) throw badJson(`${field}.keys must hold exactly one key`);
  const [keyId, publicKey] = entries[0]!;
  if (keyId !== `ed25519:${publicKey}`) throw badJson(`${field}.keys must be ed25519:<public key> -> <public key>`);
  if (raw.signatures !== undefined && !isSignatures(raw.signatures)) throw badJson(`${field}.signatures is malformed`);
  return { key: raw as CrossSigningKey, publicKey };
}

/** `/keys/query` `device_keys`: user id -> device ids (empty: all devices). */
export function parseQueryRequest(raw: unknown): Map<string, string[]> {
  if (!isJsonObject(raw)) throw badJson('device_keys must be an object');
  const out = new Map<string, string[]>();
  for (const [userId, devices] of Object.entries(raw)) {
    if (!isStringArray(devices)) throw badJson(`device_keys.${userId} must be an array of device ids`);
    out.set(userId, devices);
  }
  return out;
}

/** `/keys/claim` `one_time_keys`: user id -> device id -> algorithm. */
export function parseClaimRequest(raw: unknown): Map<string, Map<string, string>> {
  if (!isJsonObject(raw)) throw badJson('one_time_keys must be an object');
  const out = new Map<string, Map<string, string>>();
  for (const [userId, devices] of Object.entries(raw)) {
    if (!isStringMap(devices)) throw badJson(`one_time_keys.${userId} must map device ids to algorithms`);
    out.set(userId, new Map(Object.entries(devices)));
  }
  return out;
}
