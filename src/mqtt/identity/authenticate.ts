/**
 * MQTT CONNECT authentication (MQTT 3.1.1 section 3.1.3.4-5 username/password, 3.2.2.3 CONNACK
 * return codes): a registered device's credentials, or a Matrix access token as the password of
 * that user, or nothing at all when anonymous access is allowed.
 */
import type { DeviceIdentity, MqttIdentity } from './identity.js';

/** CONNACK return codes of MQTT 3.1.1 table 3.1 that authentication produces. */
export const CONNACK_BAD_USERNAME_OR_PASSWORD = 4;
export const CONNACK_NOT_AUTHORIZED = 5;

export type AuthResult =
  | { ok: true; identity: MqttIdentity }
  | { ok: false; returnCode: typeof CONNACK_BAD_USERNAME_OR_PASSWORD | typeof CONNACK_NOT_AUTHORIZED };

export interface AuthenticatorDeps {
  verifyDevice(username: string, password: string): Promise<DeviceIdentity | undefined>;
  /** Resolves a Matrix access token to its user (accounts module); undefined when unknown. */
  authenticateAccessToken(token: string): Promise<{ userId: string } | undefined>;
  allowAnonymous: boolean;
}

export type Authenticator = (username: string | undefined, password: Buffer | undefined) => Promise<AuthResult>;

/**
 * 1. No username: anonymous, allowed only by configuration, else "not authorized" (5).
 * 2. Device credentials (username = device name) checked against the registry.
 * 3. Otherwise the password may be a Matrix access token; the username must then name the same
 *    user, as full user id or localpart, so a token pasted under the wrong name is not accepted.
 * 4. Anything else: "bad user name or password" (4).
 */
export function createAuthenticator(deps: AuthenticatorDeps): Authenticator {
  return async (username, password) => {
    if (username === undefined || username === '') {
      return deps.allowAnonymous ? { ok: true, identity: { kind: 'anonymous' } } : { ok: false, returnCode: CONNACK_NOT_AUTHORIZED };
    }
    if (password === undefined || password.length === 0) return { ok: false, returnCode: CONNACK_BAD_USERNAME_OR_PASSWORD };
    const secret = password.toString('utf8');
    const device = await deps.verifyDevice(username, secret);
    if (device) return { ok: true, identity: device };
    const user = await deps.authenticateAccessToken(secret);
    if (user && (user.userId === username || localpartOf(user.userId) === username)) {
      return { ok: true, identity: { kind: 'user', userId: user.userId } };
    }
    return { ok: false, returnCode: CONNACK_BAD_USERNAME_OR_PASSWORD };
  };
}

function localpartOf(userId: string): string {
  const colon = userId.indexOf(':');
  return userId.slice(1, colon < 0 ? undefined : colon);
}
