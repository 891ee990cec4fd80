/**
 * `/keys/query` and `/keys/claim` of local clients for users of other servers (client-server
 * "Key management API"; server-server "End-to-End Encryption"): grouped per server, answered from
 * the remote device list cache when it holds a fresh list of every requested user of that server,
 * else asked with `POST /_matrix/federation/v1/user/keys/query` (`/user/keys/claim` always: one-time
 * keys are never cached). Each server gets the client's deadline; a server that fails or misses it
 * is listed in `failures` as `{ status, message }` ("If any remote homeservers could not be reached,
 * they are recorded here"), the others' answers are kept.
 *
 * What comes back is checked: only the requested users of that server, keys naming that same
 * user and device; anything else is left out.
 */
import type { Logger } from 'pino';
import { serverNameOf } from '../../core/identifiers.js';
import { isJsonObject } from '../../core/json-object.js';
import type { JsonObject } from '../../core/types.js';
import type { RemoteKeyDirectory, RemoteKeysAnswer } from '../../e2ee/service.js';
import type { FederationRequests } from '../requests.js';
import type { RemoteDeviceList } from './remote-device-store.js';
import { withDeadline } from './remote-device-lists.js';

/** Servers asked at once for one client request. */
const SERVER_CONCURRENCY = 8;

export interface RemoteKeyQueriesDeps {
  requests: FederationRequests;
  /** The cached list when fresh (RemoteDeviceLists.fresh). */
  cachedList(userId: string): Promise<RemoteDeviceList | undefined>;
  /** Asks for a user's list to be cached (when they share a room with us); never waited for. */
  warm?(userId: string): void;
  log: Logger;
}

export class RemoteKeyQueries implements RemoteKeyDirectory {
  constructor(private readonly deps: RemoteKeyQueriesDeps) {}

  async query(users: Map<string, string[]>, timeoutMs: number): Promise<RemoteKeysAnswer> {
    const out: RemoteKeysAnswer = { device_keys: {}, master_keys: {}, self_signing_keys: {}, failures: {} };
    await forEachServer(groupByServer(users), async (server, wanted) => {
      // 1. From the cache, when every user of this server is cached and fresh.
      const cached = new Map<string, RemoteDeviceList>();
      for (const userId of wanted.keys()) {
        const list = await this.deps.cachedList(userId);
        if (list) cached.set(userId, list);
        else this.deps.warm?.(userId);
      }
      if (cached.size === wanted.size) {
        for (const [userId, list] of cached) addCachedKeys(out, list, wanted.get(userId)!);
        return;
      }
      // 2. Otherwise, from the server.
      try {
        const answer = await withDeadline(
          this.deps.requests.post(server, '/_matrix/federation/v1/user/keys/query', { device_keys: Object.fromEntries(wanted) }),
          timeoutMs,
        );
        addServerKeys(out, answer, wanted);
      } catch (err) {
        out.failures[server] = failureOf(err);
        this.deps.log.debug({ server, err: (err as Error).message }, 'remote key query failed');
      }
    });
    return out;
  }

  async claim(request: Map<string, Map<string, string>>, timeoutMs: number): Promise<{ one_time_keys: Record<string, JsonObject>; failures: Record<string, JsonObject> }> {
    const claimed: Record<string, JsonObject> = {};
    const failures: Record<string, JsonObject> = {};
    await forEachServer(groupByServer(request), async (server, wanted) => {
      const body: Record<string, Record<string, string>> = {};
      for (const [userId, devices] of wanted) body[userId] = Object.fromEntries(devices);
      try {
        const answer = await withDeadline(this.deps.requests.post(server, '/_matrix/federation/v1/user/keys/claim', { one_time_keys: body }), timeoutMs);
        const keys = isJsonObject(answer) && isJsonObject(answer.one_time_keys) ? answer.one_time_keys : {};
        for (const [userId, devices] of wanted) {
          const byDevice = keys[userId];
          if (!isJsonObject(byDevice)) continue;
          const kept: JsonObject = {};
          for (const deviceId of devices.keys()) {
            const key = byDevice[deviceId];
            if (isJsonObject(key)) kept[deviceId] = key;
          }
          if (Object.keys(kept).length > 0) claimed[userId] = kept;
        }
      } catch (err) {
        failures[server] = failureOf(err);
        this.deps.log.debug({ server, err: (err as Error).message }, 'remote key claim failed');
      }
    });
    return { one_time_keys: claimed, failures };
  }
}

function groupByServer<V>(byUser: Map<string, V>): Map<string, Map<string, V>> {
  const out = new Map<string, Map<string, V>>();
  for (const [userId, value] of byUser) {
    const server = serverNameOf(userId);
    if (!server) continue;
    let users = out.get(server);
    if (!users) out.set(server, (users = new Map()));
    users.set(userId, value);
  }
  return out;
}

async function forEachServer<V>(byServer: Map<string, V>, work: (server: string, value: V) => Promise<void>): Promise<void> {
  const entries = [...byServer];
  let next = 0;
  const worker = async () => {
    while (next < entries.length) {
      const [server, value] = entries[next++]!;
      await work(server, value);
    }
  };
  await Promise.all(Array.from({ length: Math.min(SERVER_CONCURRENCY, entries.length) }, worker));
}

/** keys.yaml `failures`: the remote status when it answered with an error, 503 when it could not be reached in time. */
function failureOf(err: unknown): JsonObject {
  const status = (err as { status?: unknown }).status;
  return { status: typeof status === 'number' && status >= 400 ? status : 503, message: (err as Error).message ?? 'unreachable' };
}

function addCachedKeys(out: RemoteKeysAnswer, list: RemoteDeviceList, devices: string[]): void {
  const wanted = devices.length > 0 ? new Set(devices) : undefined;
  const userKeys: JsonObject = {};
  for (const [deviceId, device] of Object.entries(list.devices)) {
    if (!device.keys || (wanted && !wanted.has(deviceId))) continue;
    userKeys[deviceId] = { ...device.keys, unsigned: device.displayName === undefined ? {} : { device_display_name: device.displayName } };
  }
  out.device_keys[list.userId] = userKeys;
  if (list.masterKey) out.master_keys[list.userId] = list.masterKey;
  if (list.selfSigningKey) out.self_signing_keys[list.userId] = list.selfSigningKey;
}

function addServerKeys(out: RemoteKeysAnswer, answer: unknown, wanted: Map<string, string[]>): void {
  if (!isJsonObject(answer)) return;
  const deviceKeys = isJsonObject(answer.device_keys) ? answer.device_keys : {};
  for (const [userId, devices] of wanted) {
    const byDevice = deviceKeys[userId];
    const only = devices.length > 0 ? new Set(devices) : undefined;
    const userKeys: JsonObject = {};
    if (isJsonObject(byDevice)) {
      for (const [deviceId, keys] of Object.entries(byDevice)) {
        if (only && !only.has(deviceId)) continue;
        if (isJsonObject(keys) && keys.user_id === userId && keys.device_id === deviceId) userKeys[deviceId] = keys;
      }
    }
    out.device_keys[userId] = userKeys;
    for (const [field, target] of [['master_keys', out.master_keys], ['self_signing_keys', out.self_signing_keys]] as const) {
      const all = answer[field];
      const key = isJsonObject(all) ? all[userId] : undefined;
      if (isJsonObject(key) && key.user_id === userId) target[userId] = key;
    }
  }
}
