/**
 * Which MQTT login speaks for which bridged device (docs/mqtt.md "Device ownership").
 *
 * A device's identity is its MQTT login, not what its payloads say: a Home Assistant discovery
 * message names its device by `device.identifiers`, which any publisher can copy. So a bridged
 * device belongs to the login that first spoke for it (announced it, or reported a value or its
 * availability): its `owner`, kept in the device's `bridge_devices` record. Messages about that
 * device from any other login are refused. Device keys stay what the conventions make them
 * (`ha.<identifier>`, `z2m.<friendly name>`, ...): namespacing them by login would rename every
 * device room's Matrix user and break Home Assistant's idea that identifiers name a device.
 *
 * Decided synchronously, in arrival order, before a message is routed: of two logins announcing
 * the same new device in one burst, the first wins. Claims of devices not registered yet (values
 * before any announcement) are kept in memory, bounded; a record created later takes its claim.
 * A record without an owner (written before owners existed, or from an external broker, where
 * publishers cannot be told apart) is claimed by the next login that speaks for it.
 */

/** Principal strings as `principalOf` (identity/client-ids.ts) makes them: `device:<name>`, ... */
export type Principal = string;

export interface OwnedRecord {
  owner?: Principal;
}

export type ClaimOutcome =
  /** The publisher owns the device (now, or already). `adopted` names a record that just got its owner. */
  | { ok: true; adopted?: OwnedRecord }
  | { ok: false; owner: Principal };

/** Unregistered devices' claims kept at most (oldest forgotten first). */
const UNREGISTERED_CLAIMS_LIMIT = 4096;

export class DeviceOwnership {
  /** Claims of device keys that have no record yet. */
  private readonly unregistered = new Map<string, Principal>();

  constructor(
    private readonly recordOf: (key: string) => OwnedRecord | undefined,
    private readonly limit = UNREGISTERED_CLAIMS_LIMIT,
  ) {}

  ownerOf(key: string): Principal | undefined {
    return this.recordOf(key)?.owner ?? this.unregistered.get(key);
  }

  /** Whether `publisher` may speak for device `key`; a device nobody owns becomes the publisher's. */
  claim(key: string, publisher: Principal): ClaimOutcome {
    const record = this.recordOf(key);
    const owner = record?.owner ?? this.unregistered.get(key);
    if (owner !== undefined) return owner === publisher ? { ok: true } : { ok: false, owner };
    if (record) {
      this.unregistered.delete(key);
      record.owner = publisher;
      return { ok: true, adopted: record };
    }
    this.unregistered.set(key, publisher);
    if (this.unregistered.size > this.limit) this.unregistered.delete(this.unregistered.keys().next().value!);
    return { ok: true };
  }

  /** Forgets the pending claim of `key` once its new record (saved with the owner) holds it. */
  takeClaim(key: string): Principal | undefined {
    const owner = this.unregistered.get(key);
    this.unregistered.delete(key);
    return owner;
  }

  /** Forgets the pending claims of `publisher` (a removed login); records are the registry's. */
  releasePending(publisher: Principal): void {
    for (const [key, owner] of this.unregistered) if (owner === publisher) this.unregistered.delete(key);
  }
}
