/**
 * What a registration's UIA session remembers between its requests (client-server-api "Account
 * registration"; Synapse's `clientdict` and `UIAuthSessionDataConstants`): the parameters of the
 * request, so that a client may send only `auth` in the next one; the password, hashed at once so
 * no plaintext waits in memory; and the user once registered, so a retry of the completed session
 * answers for the same account instead of creating a second one.
 */
import { UiaSessionKey } from './uia-sessions.js';

/** The parameters of a registration request that outlive it (everything but `auth` and `password`). */
export interface RegistrationParams {
  username?: string;
  device_id?: string;
  initial_device_display_name?: string;
  inhibit_login?: boolean;
}

export const REGISTRATION_PARAMS = new UiaSessionKey<RegistrationParams>('registration.params');
export const REGISTRATION_PASSWORD_HASH = new UiaSessionKey<string>('registration.password_hash');
/** A promise, set before the account is created, so that concurrent retries wait for that one account. */
export const REGISTERED_USER_ID = new UiaSessionKey<Promise<string> | undefined>('registration.registered_user_id');

/**
 * The parameters a request carries, or none. An `initial_device_display_name` without a
 * `password` is dropped, as Synapse does: a client bug sent it alone and wiped the remembered ones.
 */
export function registrationParamsOf(body: RegistrationParams & { password?: string }): RegistrationParams | undefined {
  const params: RegistrationParams = {
    ...(body.username !== undefined ? { username: body.username } : {}),
    ...(body.device_id !== undefined ? { device_id: body.device_id } : {}),
    ...(body.initial_device_display_name !== undefined && body.password !== undefined
      ? { initial_device_display_name: body.initial_device_display_name }
      : {}),
    ...(body.inhibit_login !== undefined ? { inhibit_login: body.inhibit_login } : {}),
  };
  return Object.keys(params).length > 0 ? params : undefined;
}
