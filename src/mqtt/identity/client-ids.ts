/**
 * Who may use an MQTT client id. MQTT 3.1.1 section 3.1.4 has a second CONNECT with a client id in
 * use take over the first connection and, with CleanSession 0, its stored session (subscriptions and
 * the queued messages: a device's commands). Any authenticated client could thus disconnect a
 * device, or read its queued commands, by guessing its client id. So a client id belongs to the
 * identity that uses it:
 * - while a connection with that id is open, to its identity;
 * - while a persistent session (CleanSession 0) exists for it, to the identity that created it
 *   (kept in `mqtt_client_owners`, docs/storage.md), until that identity connects with
 *   CleanSession 1, which discards the session [MQTT-3.1.2-6], or the device is removed.
 * Another identity gets CONNACK 2, "identifier rejected" (MQTT 3.1.1 table 3.1). Client ids stay
 * free-form, since real firmware picks its own (Tasmota `DVES_XXXXXX`, Zigbee2MQTT `mqttjs_...`).
 */
import type { Database } from '../../storage/db.js';
import { tuple } from '../../storage/codec.js';
import type { MqttIdentity } from './identity.js';

/** CONNACK return code 2 of MQTT 3.1.1 table 3.1. */
export const CONNACK_IDENTIFIER_REJECTED = 2;

/** One string per identity: `device:<name>`, `user:<user id>`, or `anonymous`. */
export function principalOf(identity: MqttIdentity): string {
  switch (identity.kind) {
    case 'device':
      return `device:${identity.deviceName}`;
    case 'user':
      return `user:${identity.userId}`;
    case 'anonymous':
      return 'anonymous';
  }
}

export class ClientIdOwnership {
  /** Client ids with a persistent session -> owner principal (all of them: one per device or so). */
  private readonly sessions = new Map<string, string>();
  /** Client ids of open connections -> owner principal and a token for that connection. */
  private readonly live = new Map<string, { principal: string; connection: object }>();

  private constructor(private readonly db: Database) {}

  static async open(db: Database): Promise<ClientIdOwnership> {
    const owners = new ClientIdOwnership(db);
    for await (const [key, value] of db.space('mqttClientOwners').iterator()) {
      owners.sessions.set(Buffer.from(key).subarray(0, key.length - 1).toString('utf8'), Buffer.from(value).toString('utf8'));
    }
    return owners;
  }

  /**
   * A CONNECT of `clientId` by `identity`: whether it may proceed. When it may, the id is bound to
   * the identity for this `connection` (release it with {@link disconnected}), and a persistent
   * session's owner is recorded, or forgotten when the owner starts clean.
   */
  async connect(clientId: string, identity: MqttIdentity, cleanSession: boolean, connection: object): Promise<boolean> {
    const principal = principalOf(identity);
    const owner = this.live.get(clientId)?.principal ?? this.sessions.get(clientId);
    if (owner !== undefined && owner !== principal) return false;
    const key = tuple(clientId);
    if (!cleanSession && !this.sessions.has(clientId)) {
      this.sessions.set(clientId, principal);
      await this.db.write([this.db.put('mqttClientOwners', key, Buffer.from(principal, 'utf8'))]);
    } else if (cleanSession && this.sessions.has(clientId)) {
      this.sessions.delete(clientId);
      await this.db.write([this.db.del('mqttClientOwners', key)]);
    }
    this.live.set(clientId, { principal, connection });
    return true;
  }

  /** The connection that bound `clientId` closed (a newer connection of the same owner keeps it). */
  disconnected(clientId: string, connection: object): void {
    if (this.live.get(clientId)?.connection === connection) this.live.delete(clientId);
  }

  /** A removed device's persistent sessions stop holding their client ids. */
  async releaseDevice(deviceName: string): Promise<void> {
    const principal = `device:${deviceName}`;
    const ids = [...this.sessions].filter(([, owner]) => owner === principal).map(([id]) => id);
    for (const id of ids) this.sessions.delete(id);
    if (ids.length > 0) await this.db.write(ids.map((id) => this.db.del('mqttClientOwners', tuple(id))));
  }
}
