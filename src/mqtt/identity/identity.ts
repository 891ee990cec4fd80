/**
 * Who an MQTT connection is, once authenticated. Kept apart from the broker so the ACL policy and
 * the authenticator are pure modules that the embedded broker and tests share.
 */

/** A registered device (`hearth device add`): username = device name, password from the registry. */
export interface DeviceIdentity {
  kind: 'device';
  deviceName: string;
  /** The device's Matrix user, `@<name>:<server>`. */
  userId: string;
}

/** A Matrix user who logged in with an access token as the MQTT password (dashboards, scripts). */
export interface UserIdentity {
  kind: 'user';
  userId: string;
}

/** A client without credentials; only exists when `mqtt.allow_anonymous` is set. */
export interface AnonymousIdentity {
  kind: 'anonymous';
}

export type MqttIdentity = DeviceIdentity | UserIdentity | AnonymousIdentity;

/** Device names are also Matrix localparts and MQTT topic levels: lower case, no `/`, `+`, `#`. */
export const DEVICE_NAME_PATTERN = /^[a-z0-9][a-z0-9_-]*$/;
/** Keeps `@<name>:<server>` well under the 255-byte user id limit for any sane server name. */
export const DEVICE_NAME_MAX_LENGTH = 64;

export function isValidDeviceName(name: string): boolean {
  return name.length <= DEVICE_NAME_MAX_LENGTH && DEVICE_NAME_PATTERN.test(name);
}
