/**
 * matrix-js-sdk 37.5.0 as a real client of a running Hearth: accounts registered and logged in
 * through the SDK's own calls, clients started the way an app starts them, and small waits on what
 * the clients have seen.
 */
import * as sdk from 'matrix-js-sdk';
import type { Logger } from 'matrix-js-sdk/lib/logger.js';

/** A Logger that drops everything: the SDK logs every sync at debug level otherwise. */
const silentLogger: Logger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  getChild: () => silentLogger,
};

export { silenceSdk } from './sdk-quiet.js';

/** Timers at least this long are request timeouts, never a test's own wait. */
const REQUEST_TIMEOUT_FLOOR_MS = 60_000;

/**
 * The SDK's AbortSignal.timeout ponyfill (lib/http-api/utils.js `timeoutSignal`) arms a referenced
 * timer per request and never clears it: each /sync leaves one of pollTimeout + 80 s, which keeps
 * the ava worker alive for ~2 minutes after the last test. The native AbortSignal.timeout unrefs its
 * timer for this reason; this does the same for long timers created in this worker.
 */
export function unrefSdkRequestTimers(): void {
  if ((globalThis.setTimeout as { unrefsLong?: boolean }).unrefsLong) return;
  const original = globalThis.setTimeout;
  const unrefLong = ((handler: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const timer = original(handler, ms, ...args);
    if ((ms ?? 0) >= REQUEST_TIMEOUT_FLOOR_MS) timer.unref();
    return timer;
  }) as typeof setTimeout;
  globalThis.setTimeout = Object.assign(unrefLong, original, { unrefsLong: true });
}

// Every test file that drives the SDK imports this module: none should idle ~2 minutes at its end
// (issue 14: three files did, ~5 minutes of `make test`).
unrefSdkRequestTimers();

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

/**
 * Creates a client with these credentials (and `clientOptions`, e.g. `timelineSupport`) and starts
 * it; resolves once the first sync is in.
 * Pending events are `detached`: a local echo stays out of the timeline until its remote echo comes
 * through /sync, so the timeline shows the server's order (chronological ordering would put a local
 * echo after whatever the client had received when it was sent).
 */
export async function startSdkClient(
  baseUrl: string,
  creds: SdkCredentials,
  startOptions: sdk.IStartClientOpts = {},
  clientOptions: Partial<sdk.ICreateClientOpts> = {},
): Promise<sdk.MatrixClient> {
  const client = sdk.createClient({ baseUrl, ...creds, logger: silentLogger, ...clientOptions });
  await client.startClient({ initialSyncLimit: 20, pendingEventOrdering: sdk.PendingEventOrdering.Detached, ...startOptions });
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
