/**
 * Applying another server's `m.device_list_update` EDUs in order (server-server "Device
 * Management"): each names its `stream_id` and the `prev_id`s it follows. Pure: no I/O.
 *
 * "If the receiving server does not recognise any of the prev_ids, it means an EDU has been lost
 * and the server should query a snapshot of the device list" (`GET /user/devices/{userId}`). Our
 * cache remembers one position per user, the `stream_id` of the last update it applied (or of the
 * snapshot), so an update applies when it follows exactly that position.
 */

export type DeviceListStep =
  /** The update follows what we hold: apply it and hold its `stream_id`. */
  | 'apply'
  /** Already applied (a retried transaction, or one older than the snapshot we hold). */
  | 'ignore'
  /** Something was missed, or nothing is held: fetch the whole list again. */
  | 'resync';

/**
 * What to do with an update `{ streamId, prevIds }` given the position held for its user
 * (`undefined` when the user's list is not cached, or is known to be out of date):
 *  1. nothing held (or no `prev_id` to check against): resync;
 *  2. `stream_id` not after the held position: already seen, ignore;
 *  3. the held position is among `prev_id` and no `prev_id` is after it: apply;
 *  4. otherwise an update between them was lost: resync.
 */
export function deviceListStep(held: number | undefined, update: { streamId: number; prevIds: readonly number[] }): DeviceListStep {
  // 1.
  if (held === undefined) return 'resync';
  // 2.
  if (update.streamId <= held) return 'ignore';
  if (update.prevIds.length === 0) return 'resync';
  // 3.
  if (update.prevIds.includes(held) && update.prevIds.every((id) => id <= held)) return 'apply';
  // 4.
  return 'resync';
}
