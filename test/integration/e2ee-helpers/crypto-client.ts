/**
 * matrix-js-sdk 37.5.0 clients with its Rust crypto (the OlmMachine in wasm) against a running
 * Hearth: created, crypto initialised in memory, started, and every HTTP request they make recorded
 * so that a failing E2EE test can say what the SDK asked for. Also waits on decrypted timeline
 * events and a raw `/messages` read that shows what the server stores.
 */
import { LoggerLevel, Tracing } from '@matrix-org/matrix-sdk-crypto-wasm';
import * as sdk from 'matrix-js-sdk';
import type { Logger } from 'matrix-js-sdk/lib/logger.js';
import { request } from '../helpers/http.js';
import { waitFor, type SdkCredentials } from '../helpers/sdk.js';

/** Drops everything: the Rust crypto logs each outgoing request and sync otherwise. */
const silentLogger: Logger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  getChild: () => silentLogger,
};

/**
 * `initRustCrypto` turns the Rust crypto's tracing on at debug level (written with console.debug)
 * each time it runs; it is turned off again right after, and the lines written meanwhile dropped.
 */
async function initRustCryptoQuietly(client: sdk.MatrixClient): Promise<void> {
  const debug = console.debug;
  console.debug = () => {};
  try {
    await client.initRustCrypto({ useIndexedDB: false });
    new Tracing(LoggerLevel.Error).turnOff();
  } finally {
    console.debug = debug;
  }
}

/** One HTTP request of a client: method, path with query, the status it got, and when. */
export interface RecordedRequest {
  method: string;
  path: string;
  /** The HTTP status; 0 while waiting for the answer, -1 when none came. */
  status: number;
  /** Milliseconds since the epoch when it was sent, and how long the answer took. */
  sentAt: number;
  durationMs: number;
}

export interface CryptoClient {
  client: sdk.MatrixClient;
  /** Every request this client made, oldest first (for failure messages). */
  requests: RecordedRequest[];
  /** The requests as lines, the sync polls left out: what to print when a wait times out. */
  describeRequests(): string;
}

/** A `fetch` that records each request's method, path and status into `log`. */
function recordingFetch(log: RecordedRequest[]): typeof globalThis.fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    // Recorded when sent, so that a request still waiting (a long-poll) shows too: status 0 until
    // answered, -1 when no answer came (connection refused or reset).
    const record: RecordedRequest = { method, path: `${url.pathname}${url.search}`, status: 0, sentAt: Date.now(), durationMs: 0 };
    log.push(record);
    let res: Response;
    try {
      res = await fetch(input, init);
    } catch (err) {
      record.status = -1;
      throw err;
    } finally {
      record.durationMs = Date.now() - record.sentAt;
    }
    record.status = res.status;
    return res;
  };
}

/**
 * Creates a client with these credentials, initialises the Rust crypto with an in-memory store (as
 * an app on Node without IndexedDB does), starts it and resolves after its first sync: by then the
 * crypto has uploaded its device keys and one-time keys (it does so on the first sync's counts).
 */
export async function startCryptoClient(baseUrl: string, creds: SdkCredentials): Promise<CryptoClient> {
  const requests: RecordedRequest[] = [];
  const client = sdk.createClient({ baseUrl, ...creds, logger: silentLogger, fetchFn: recordingFetch(requests) });
  await initRustCryptoQuietly(client);
  await client.startClient({ initialSyncLimit: 20 });
  await waitFor(() => client.isInitialSyncComplete(), `${creds.userId}'s initial sync`);
  return {
    client,
    requests,
    describeRequests: () =>
      requests
        .filter((r) => !r.path.startsWith('/_matrix/client/v3/sync'))
        .map((r) => `${r.method} ${r.path} -> ${r.status}`)
        .join('\n'),
  };
}

/** Polls the async `condition` until it holds; fails with `what` after `timeoutMs`. */
export async function waitForAsync(condition: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

/**
 * Resolves with the event `eventId` of `roomId` at `client` once it is decrypted. A failed attempt
 * is not final: the SDK retries when the room key arrives later over to-device, so this waits for
 * success and, on timeout, reports the last failure and the client's requests.
 */
export async function waitForDecryptedEvent(
  crypto: CryptoClient,
  roomId: string,
  eventId: string,
  timeoutMs = 15_000,
): Promise<sdk.MatrixEvent> {
  const { client } = crypto;
  let found: sdk.MatrixEvent | undefined;
  const decrypted = () => {
    found = client.getRoom(roomId)?.findEventById(eventId);
    return found !== undefined && found.isEncrypted() && !found.isBeingDecrypted() && found.getClearContent() !== null && !found.isDecryptionFailure();
  };
  try {
    await waitFor(decrypted, `event ${eventId} decrypted at ${client.getUserId()}/${client.getDeviceId()}`, timeoutMs);
  } catch (err) {
    const state = found === undefined ? 'never arrived' : `decryption failure: ${found.decryptionFailureReason ?? 'none yet'}`;
    throw new Error(`${(err as Error).message} (${state})\nrequests:\n${crypto.describeRequests()}`);
  }
  return found!;
}

/** The room's events as the server hands them out (`/messages`, newest first), untouched by any SDK. */
export async function rawRoomEvents(baseUrl: string, token: string, roomId: string, limit = 50): Promise<Array<{ event_id: string; type: string; content: Record<string, unknown> }>> {
  const res = await request(baseUrl, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=${limit}`, { token });
  if (res.status !== 200) throw new Error(`/messages: ${res.status} ${res.text}`);
  return res.body.chunk;
}
