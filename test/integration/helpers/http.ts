/**
 * Raw Client-Server API calls over real HTTP for integration tests, and account registration through
 * the real `/register` User-Interactive Authentication flow.
 */

export interface MatrixResponse {
  status: number;
  /** Parsed JSON body, or `undefined` when the body is not JSON. */
  body: any;
  text: string;
}

export interface RequestOptions {
  token?: string;
  /** Serialised as JSON. */
  json?: unknown;
  /** Sent as is, with `Content-Type: application/json` (for malformed bodies). */
  raw?: string;
  /** Extra request headers (a `User-Agent` to find again in admin whois). */
  headers?: Record<string, string>;
}

export async function request(baseUrl: string, method: string, path: string, opts: RequestOptions = {}): Promise<MatrixResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.raw !== undefined) body = opts.raw;
  else if (opts.json !== undefined) body = JSON.stringify(opts.json);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text };
}

export interface RegisteredUser {
  userId: string;
  accessToken: string;
  deviceId: string;
  password: string;
}

/**
 * Registers `name` with the `m.login.dummy` stage (client-server-api "User-Interactive
 * Authentication API"): a first request without `auth` gets 401 with a session and the flows, the
 * second completes the dummy stage in that session.
 */
export async function registerUser(baseUrl: string, name: string, password: string): Promise<RegisteredUser> {
  const params = { username: name, password, initial_device_display_name: `${name} test device` };
  const first = await request(baseUrl, 'POST', '/_matrix/client/v3/register', { json: params });
  if (first.status !== 401 || typeof first.body?.session !== 'string') {
    throw new Error(`/register without auth: expected 401 with a session, got ${first.status} ${first.text}`);
  }
  const flows: Array<{ stages: string[] }> = first.body.flows ?? [];
  if (!flows.some((flow) => flow.stages.length === 1 && flow.stages[0] === 'm.login.dummy')) {
    throw new Error(`/register offers no m.login.dummy flow: ${first.text}`);
  }
  const second = await request(baseUrl, 'POST', '/_matrix/client/v3/register', {
    json: { ...params, auth: { type: 'm.login.dummy', session: first.body.session } },
  });
  if (second.status !== 200) throw new Error(`/register with m.login.dummy: ${second.status} ${second.text}`);
  return { userId: second.body.user_id, accessToken: second.body.access_token, deviceId: second.body.device_id, password };
}

/** PUT /rooms/{roomId}/send/m.room.message/{txnId} with a text body; returns the event id. */
export async function sendText(baseUrl: string, token: string, roomId: string, txnId: string, body: string): Promise<string> {
  const res = await request(
    baseUrl,
    'PUT',
    `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${encodeURIComponent(txnId)}`,
    { token, json: { msgtype: 'm.text', body } },
  );
  if (res.status !== 200 || typeof res.body?.event_id !== 'string') {
    throw new Error(`send ${txnId}: ${res.status} ${res.text}`);
  }
  return res.body.event_id;
}
