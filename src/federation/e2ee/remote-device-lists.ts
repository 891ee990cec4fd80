/**
 * Other servers' users' device lists, kept fresh by their EDUs (server-server "Device
 * Management", "End-to-End Encryption"; client-server "Tracking the device list for a user"):
 *
 *  - `m.device_list_update` applies to the cached list when its `prev_id` follows the position we
 *    hold (device-list-gaps.ts); a gap marks the list stale and resyncs it with
 *    `GET /_matrix/federation/v1/user/devices/{userId}`;
 *  - `m.signing_key_update` replaces the cached master / self-signing key;
 *  - either way the user's device list "changed" at a new stream position, so local users who
 *    share a room with them see them in `device_lists.changed` of `/sync` and fetch their keys again.
 *
 * Only users who share a room with this server are tracked (their updates mean nothing to anyone
 * here otherwise; Synapse does the same). Resyncs run one per user at a time, a few at once, from a
 * bounded queue: a burst of gaps cannot open a connection per user.
 */
import type { Logger } from 'pino';
import { serverNameOf } from '../../core/identifiers.js';
import { isJsonObject } from '../../core/json-object.js';
import type { JsonObject } from '../../core/types.js';
import { canonicalJson } from '../../core/canonical-json.js';
import type { BatchOp, Database } from '../../storage/db.js';
import { KeyedLock } from '../../util/keyed-lock.js';
import type { DeviceListUpdate, SigningKeyUpdate } from '../edus/edu-rules.js';
import { seg, type FederationRequests } from '../requests.js';
import { deviceListStep } from './device-list-gaps.js';
import { MAX_DEVICES, type RemoteDevice, type RemoteDeviceList, type RemoteDeviceStore } from './remote-device-store.js';

/** Resyncs running at once, and waiting at most (beyond, a stale list waits for the next query or update). */
const RESYNC_CONCURRENCY = 4;
const MAX_RESYNC_QUEUE = 1000;
/** A resync must answer within this. */
const RESYNC_TIMEOUT_MS = 30_000;

export interface RemoteDeviceListsDeps {
  db: Pick<Database, 'write'>;
  store: RemoteDeviceStore;
  requests: FederationRequests;
  /** Writes `ops` with a device list change of the (remote) user at a new stream position (E2eeService.writeRemoteDeviceListChange). */
  writeChange(ops: BatchOp[], userId: string): Promise<void>;
  /** Whether a joined room of this server has the user as a joined member. */
  sharesRoom(userId: string): Promise<boolean>;
  log: Logger;
  now?: () => number;
}

export class RemoteDeviceLists {
  private readonly lock = new KeyedLock();
  /** Users waiting for a resync, and those whose resync runs now (never two of one user at once). */
  private readonly queued = new Set<string>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly now: () => number;
  private stopped = false;
  /** Settles when a user's running or queued resync ends (tests and callers that want the fresh list). */
  private readonly waiters = new Map<string, Array<() => void>>();

  constructor(private readonly deps: RemoteDeviceListsDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Stops taking resyncs; resolves once the running ones have ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.queued.clear();
    await Promise.all(this.running.values());
  }

  /** The cached list when it can be trusted (present and not stale). */
  async fresh(userId: string): Promise<RemoteDeviceList | undefined> {
    const list = await this.deps.store.get(userId);
    return list && !list.stale ? list : undefined;
  }

  /** `m.device_list_update` from the user's own server (checked by edu-rules.ts). */
  async applyUpdate(update: DeviceListUpdate): Promise<void> {
    if (!(await this.deps.sharesRoom(update.userId))) return;
    const resync = await this.lock.run(update.userId, async () => {
      const held = await this.deps.store.get(update.userId);
      const step = deviceListStep(held && !held.stale ? held.streamId : undefined, update);
      if (step === 'ignore') return false;
      const ops: BatchOp[] = [];
      if (step === 'apply' && held) {
        const devices = { ...held.devices };
        if (update.deleted) delete devices[update.deviceId];
        else devices[update.deviceId] = deviceOf(update.keys, update.displayName, devices[update.deviceId]);
        this.deps.store.putTxn(ops, { ...held, streamId: update.streamId, updatedTs: this.now(), devices });
      } else {
        // Kept (with what we knew) but not trusted until the resync; a user never cached gets a stale stub.
        this.deps.store.putTxn(ops, { ...(held ?? { userId: update.userId, devices: {}, streamId: 0 }), stale: true, updatedTs: this.now() });
      }
      await this.deps.writeChange(ops, update.userId);
      return step === 'resync';
    });
    if (resync) this.scheduleResync(update.userId);
  }

  /** `m.signing_key_update` from the user's own server. */
  async applySigningKeys(update: SigningKeyUpdate): Promise<void> {
    if (!(await this.deps.sharesRoom(update.userId))) return;
    await this.lock.run(update.userId, async () => {
      const held = await this.deps.store.get(update.userId);
      const ops: BatchOp[] = [];
      if (held) {
        const next: RemoteDeviceList = { ...held, updatedTs: this.now() };
        if (update.masterKey) next.masterKey = update.masterKey;
        if (update.selfSigningKey) next.selfSigningKey = update.selfSigningKey;
        this.deps.store.putTxn(ops, next);
      }
      await this.deps.writeChange(ops, update.userId);
    });
  }

  /** Queues a resync of the user's list (at most one per user at a time). */
  scheduleResync(userId: string): void {
    if (this.stopped || this.queued.has(userId) || this.queued.size >= MAX_RESYNC_QUEUE) return;
    // A user whose resync runs now waits in the queue: the running one may predate the gap.
    this.queued.add(userId);
    this.pump();
  }

  /** Resolves once no resync of the user is queued or running. */
  settled(userId: string): Promise<void> {
    if (!this.queued.has(userId) && !this.running.has(userId)) return Promise.resolve();
    return new Promise((resolve) => {
      const list = this.waiters.get(userId) ?? [];
      list.push(resolve);
      this.waiters.set(userId, list);
    });
  }

  private pump(): void {
    for (const userId of this.queued) {
      if (this.stopped || this.running.size >= RESYNC_CONCURRENCY) return;
      if (this.running.has(userId)) continue;
      this.queued.delete(userId);
      const run = this.resync(userId)
        .then(
          () => undefined,
          (err: Error) => this.deps.log.warn({ userId, err: err.message }, 'device list resync failed'),
        )
        .finally(() => {
          this.running.delete(userId);
          if (!this.queued.has(userId)) {
            for (const resolve of this.waiters.get(userId) ?? []) resolve();
            this.waiters.delete(userId);
          }
          this.pump();
        });
      this.running.set(userId, run);
    }
  }

  /**
   * `GET /user/devices/{userId}` of the user's server: the whole list replaces ours, at its
   * `stream_id`, and local users hear that the list changed. A failure leaves the list stale
   * (queries then go to the server each time) until the next update schedules another try.
   */
  async resync(userId: string): Promise<boolean> {
    const server = serverNameOf(userId);
    if (!server) return false;
    let answer: unknown;
    try {
      answer = await withDeadline(this.deps.requests.get(server, `/_matrix/federation/v1/user/devices/${seg(userId)}`), RESYNC_TIMEOUT_MS);
    } catch (err) {
      this.deps.log.info({ userId, err: (err as Error).message }, 'device list resync failed; the list stays stale');
      return false;
    }
    const list = parseUserDevices(userId, answer, this.now());
    if (!list) {
      this.deps.log.info({ userId }, 'device list resync answered with a malformed list');
      return false;
    }
    await this.lock.run(userId, async () => {
      const held = await this.deps.store.get(userId);
      const ops: BatchOp[] = [];
      this.deps.store.putTxn(ops, list);
      // Local clients re-fetch only when there is something new (a first fill follows their own query).
      if (held && !sameContent(held, list)) await this.deps.writeChange(ops, userId);
      else await this.deps.db.write(ops);
    });
    return true;
  }
}

function sameContent(a: RemoteDeviceList, b: RemoteDeviceList): boolean {
  const view = (l: RemoteDeviceList) => canonicalJson({ devices: l.devices, master: l.masterKey ?? null, selfSigning: l.selfSigningKey ?? null });
  return view(a) === view(b);
}

function deviceOf(keys: JsonObject | undefined, displayName: string | undefined, before: RemoteDevice | undefined): RemoteDevice {
  const device: RemoteDevice = {};
  const k = keys ?? before?.keys;
  if (k) device.keys = k;
  const name = displayName ?? before?.displayName;
  if (name !== undefined) device.displayName = name;
  return device;
}

/**
 * A `user/devices` answer checked: `user_id` the one asked for, an integer `stream_id`, devices
 * with string ids and, when given, keys of that same user and device; cross-signing keys of that
 * user. Devices beyond MAX_DEVICES make the list uncacheable (the store refuses it).
 */
export function parseUserDevices(userId: string, answer: unknown, now: number): RemoteDeviceList | undefined {
  if (!isJsonObject(answer) || answer.user_id !== userId || !Array.isArray(answer.devices)) return undefined;
  const streamId = answer.stream_id;
  if (typeof streamId !== 'number' || !Number.isSafeInteger(streamId) || streamId < 0) return undefined;
  const devices: Record<string, RemoteDevice> = {};
  for (const d of answer.devices.slice(0, MAX_DEVICES + 1)) {
    if (!isJsonObject(d) || typeof d.device_id !== 'string' || d.device_id.length === 0 || d.device_id.length > 255) continue;
    const device: RemoteDevice = {};
    if (isJsonObject(d.keys) && d.keys.user_id === userId && d.keys.device_id === d.device_id) device.keys = d.keys;
    if (typeof d.device_display_name === 'string') device.displayName = d.device_display_name.slice(0, 255);
    devices[d.device_id] = device;
  }
  const list: RemoteDeviceList = { userId, streamId, stale: false, updatedTs: now, devices };
  if (isJsonObject(answer.master_key) && answer.master_key.user_id === userId) list.masterKey = answer.master_key;
  if (isJsonObject(answer.self_signing_key) && answer.self_signing_key.user_id === userId) list.selfSigningKey = answer.self_signing_key;
  return list;
}

/** Rejects after `ms` if `work` has not settled (the request itself is left to its own deadline). */
export function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${ms} ms`), { timedOut: true })), ms);
    timer.unref();
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
