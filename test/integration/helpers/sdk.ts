/**
 * matrix-js-sdk 37.5.0 as a real client of a running Hearth: accounts registered and logged in
 * through the SDK's own calls, clients started the way an app starts them, and small waits on what
 * the clients have seen.
 */
import * as sdk from 'matrix-js-sdk';
import { logger as sdkRootLogger, type Logger } from 'matrix-js-sdk/lib/logger.js';

/** A Logger that drops everything: the SDK logs every sync at debug level otherwise. */
const silentLogger: Logger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  getChild: () => silentLogger,
};

/**
 * Silences the SDK's module-level logger too (a loglevel logger at runtime; its type hides
 * `setLevel`). Clients get `silentLogger` through their options.
 */
export function silenceSdk(): void {
  (sdkRootLogger as unknown as { setLevel(level: 'silent'): void }).setLevel('silent');
}

export interface SdkCredentials {
  userId: string;
  accessToken: string;
  deviceId: string;
}

/**
 * Registers through the SDK: the first `registerRequest` fails with 401 and a UIA session (the SDK
 * throws a MatrixError carrying it), the second completes `m.login.dummy`. `inhibit_login` so that
 * logging in is a separate step, as the spec allows.
 */
export async function registerWithSdk(baseUrl: string, username: string, password: string): Promise<string> {
  const anonymous = sdk.createClient({ baseUrl, logger: silentLogger });
  let session: string | undefined;
  try {
    await anonymous.registerRequest({ username, password, inhibit_login: true });
    throw new Error('/register without auth succeeded: expected a 401 UIA challenge');
  } catch (err) {
    if (!(err instanceof sdk.MatrixError) || err.httpStatus !== 401) throw err;
    session = err.data.session as string | undefined;
  }
  const res = await anonymous.registerRequest({
    username,
    password,
    inhibit_login: true,
    auth: { type: 'm.login.dummy', session },
  });
  return res.user_id;
}

export async function loginWithSdk(baseUrl: string, username: string, password: string): Promise<SdkCredentials> {
  const anonymous = sdk.createClient({ baseUrl, logger: silentLogger });
  const res = await anonymous.loginRequest({
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: username },
    password,
    initial_device_display_name: `${username} (matrix-js-sdk)`,
  });
  return { userId: res.user_id, accessToken: res.access_token, deviceId: res.device_id };
}

/** Creates a client with these credentials and starts it; resolves once the first sync is in. */
export async function startSdkClient(baseUrl: string, creds: SdkCredentials): Promise<sdk.MatrixClient> {
  const client = sdk.createClient({ baseUrl, ...creds, logger: silentLogger });
  await client.startClient({ initialSyncLimit: 20 });
  await waitFor(() => client.isInitialSyncComplete(), `${creds.userId}'s initial sync`);
  return client;
}

/** Polls `condition` until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 20));
  }
}

/** The `m.room.message` events of a room's live timeline, oldest first. */
export function liveMessages(room: sdk.Room): sdk.MatrixEvent[] {
  return room.getLiveTimeline().getEvents().filter((event) => event.getType() === 'm.room.message');
}
