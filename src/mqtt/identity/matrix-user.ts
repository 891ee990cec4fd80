/**
 * The `ensureMatrixUser` dependency of the device registry over the accounts service: a device's
 * Matrix user is an account of kind `device`, without a password (it never logs in to Matrix).
 */
import type { AccountService } from '../../accounts/accounts.js';

export function deviceUserEnsurer(
  accounts: Pick<AccountService, 'createUser' | 'getUser' | 'userIdFor'>,
): (localpart: string) => Promise<string> {
  return async (localpart) => {
    const existing = await accounts.getUser(accounts.userIdFor(localpart));
    if (existing) {
      // Never turn a person's account into a device: its messages would appear to come from a sensor.
      if (existing.kind !== 'device') throw new Error(`${existing.userId} is a person's account, not a device`);
      return existing.userId;
    }
    return (await accounts.createUser(localpart, { kind: 'device' })).userId;
  };
}
