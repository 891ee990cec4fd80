/**
 * One chat session over the Client-Server API, spoken in JSON, in CBOR, or in CBOR with MSC3079's
 * integer keys (issue 12 "Proof" 5), with the bytes each request and answer took. CBOR is written
 * and read with cbor-x, a library we did not write; `test/integration/cbor-client.test.ts` runs the
 * session in each format and compares, `scripts/bench.ts --only lowbw` reports the bytes.
 */
import { Decoder, Encoder } from 'cbor-x';
import { keyIntegerOf, keyNameOf } from '../../../src/http/low-bandwidth/cbor-keys.js';

export type WireFormat = 'json' | 'cbor' | 'cbor-keys';

export interface WireResponse {
  status: number;
  /** The answer as a JSON client would see it (integer keys expanded). */
  body: any;
  contentType: string;
  /** Request and answer body bytes (HTTP headers not counted: they are the same in every format). */
  sentBytes: number;
  receivedBytes: number;
  /** The answer's integer keys at its top level, before expansion (cbor-keys only). */
  integerKeys: number[];
}

const encoder = new Encoder({ useRecords: false, variableMapSize: true, mapsAsObjects: false });
// Maps kept as Maps: integer keys must stay distinguishable from text keys such as "8".
const decoder = new Decoder({ mapsAsObjects: false, useRecords: false });

export class Wire {
  constructor(
    readonly baseUrl: string,
    readonly format: WireFormat,
  ) {}

  async call(method: string, path: string, opts: { token?: string; body?: unknown; rawBody?: Uint8Array } = {}): Promise<WireResponse> {
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: Buffer | undefined;
    if (this.format === 'json') {
      if (opts.body !== undefined) body = Buffer.from(JSON.stringify(opts.body));
      headers['content-type'] = 'application/json';
    } else {
      if (opts.body !== undefined) body = encoder.encode(this.format === 'cbor-keys' ? withIntegerKeys(opts.body) : opts.body);
      headers['content-type'] = this.format === 'cbor-keys' ? 'application/cbor; cbor_enum_version=1' : 'application/cbor';
      headers.accept = headers['content-type'];
    }
    if (opts.rawBody) body = Buffer.from(opts.rawBody);
    const res = await fetch(`${this.baseUrl}${path}`, { method, headers, ...(body ? { body: new Uint8Array(body) } : {}) });
    const bytes = Buffer.from(await res.arrayBuffer());
    const contentType = res.headers.get('content-type') ?? '';
    let parsed: unknown;
    let integerKeys: number[] = [];
    if (contentType.startsWith('application/cbor')) {
      const raw = decoder.decode(bytes);
      if (raw instanceof Map) integerKeys = [...raw.keys()].filter((k): k is number => typeof k === 'number');
      parsed = expandIntegerKeys(raw);
    } else if (bytes.length > 0) {
      parsed = JSON.parse(bytes.toString('utf8'));
    }
    return { status: res.status, body: parsed, contentType, sentBytes: body?.length ?? 0, receivedBytes: bytes.length, integerKeys };
  }

  /** `call`, throwing unless the status is 200. */
  async ok(method: string, path: string, opts: { token?: string; body?: unknown } = {}): Promise<WireResponse> {
    const res = await this.call(method, path, opts);
    if (res.status !== 200) throw new Error(`${this.format} ${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res;
  }
}

function withIntegerKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withIntegerKeys);
  if (value === null || typeof value !== 'object') return value;
  return new Map(Object.entries(value).map(([k, v]) => [keyIntegerOf(k) ?? k, withIntegerKeys(v)]));
}

function expandIntegerKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(expandIntegerKeys);
  if (!(value instanceof Map)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of value) {
    const name = typeof k === 'number' ? keyNameOf(k) : String(k);
    if (name === undefined) throw new Error(`the server wrote the integer key ${k}, which the table does not define`);
    out[name] = expandIntegerKeys(v);
  }
  return out;
}

export interface SessionOutcome {
  /** What a client saw, with this session's names replaced so that sessions compare equal. */
  seen: Record<string, unknown>;
  bytes: { initialSync: number; incrementalSync: number; send: number };
}

/**
 * Two users, alice and bob: registration through UIA, a password login, a private room with a
 * name and topic, an invite seen in /sync, a join, five messages (one retried with its txnId), a
 * topic change seen in an incremental /sync, /messages back in two pages, the room state, and four
 * refusals. `suffix` keeps each session's users apart on one server.
 */
export async function chatSession(wire: Wire, suffix: string): Promise<SessionOutcome> {
  const register = async (name: string) => {
    const params = { username: `${name}_${suffix}`, password: 'correct horse', initial_device_display_name: name };
    const challenge = await wire.call('POST', '/_matrix/client/v3/register', { body: params });
    if (challenge.status !== 401 || typeof challenge.body?.session !== 'string') throw new Error(`register: ${challenge.status}`);
    const done = await wire.ok('POST', '/_matrix/client/v3/register', { body: { ...params, auth: { type: 'm.login.dummy', session: challenge.body.session } } });
    return { userId: done.body.user_id as string, token: done.body.access_token as string, flows: challenge.body.flows };
  };
  const alice = await register('alice');
  const bobAccount = await register('bob');
  const login = await wire.ok('POST', '/_matrix/client/v3/login', {
    body: { type: 'm.login.password', identifier: { type: 'm.id.user', user: `bob_${suffix}` }, password: 'correct horse' },
  });
  const bob = { userId: login.body.user_id as string, token: login.body.access_token as string };
  const created = await wire.ok('POST', '/_matrix/client/v3/createRoom', {
    token: alice.token,
    body: { preset: 'private_chat', name: 'Kitchen', topic: 'Sensors', invite: [bob.userId] },
  });
  const roomId = created.body.room_id as string;
  const room = encodeURIComponent(roomId);

  const invited = await wire.ok('GET', '/_matrix/client/v3/sync?timeout=0', { token: bob.token });
  const inviteState = invited.body.rooms?.invite?.[roomId]?.invite_state?.events ?? [];
  await wire.ok('POST', `/_matrix/client/v3/rooms/${room}/join`, { token: bob.token, body: {} });
  const joined = await wire.ok('GET', '/_matrix/client/v3/sync?timeout=0', { token: bob.token });

  let sendBytes = 0;
  const ids: string[] = [];
  for (let i = 1; i <= 5; i++) {
    const sent = await wire.ok('PUT', `/_matrix/client/v3/rooms/${room}/send/m.room.message/t${i}`, {
      token: alice.token,
      body: { msgtype: 'm.text', body: `reading ${i}: 21.${i} °C` },
    });
    if (i === 1) sendBytes = sent.sentBytes + sent.receivedBytes;
    ids.push(sent.body.event_id);
  }
  const retried = await wire.ok('PUT', `/_matrix/client/v3/rooms/${room}/send/m.room.message/t3`, {
    token: alice.token,
    body: { msgtype: 'm.text', body: 'reading 3: 21.3 °C' },
  });
  await wire.ok('PUT', `/_matrix/client/v3/rooms/${room}/state/m.room.topic/`, { token: alice.token, body: { topic: 'Sensors, all five' } });
  const incremental = await wire.ok('GET', `/_matrix/client/v3/sync?timeout=0&since=${encodeURIComponent(joined.body.next_batch)}`, { token: bob.token });
  const timeline = incremental.body.rooms?.join?.[roomId]?.timeline?.events ?? [];

  const page1 = await wire.ok('GET', `/_matrix/client/v3/rooms/${room}/messages?dir=b&limit=3`, { token: bob.token });
  const page2 = await wire.ok('GET', `/_matrix/client/v3/rooms/${room}/messages?dir=b&limit=3&from=${encodeURIComponent(page1.body.end)}`, { token: bob.token });
  const topic = await wire.ok('GET', `/_matrix/client/v3/rooms/${room}/state/m.room.topic/`, { token: bob.token });
  // The initial sync whose size is reported: the whole room (state and timeline) at the end.
  const initial = await wire.ok('GET', '/_matrix/client/v3/sync?timeout=0', { token: bob.token });

  const refusals = await Promise.all([
    wire.call('PUT', `/_matrix/client/v3/rooms/${encodeURIComponent('!nowhere:example.org')}/send/m.room.message/x`, { token: bob.token, body: { msgtype: 'm.text', body: 'x' } }),
    wire.call('GET', '/_matrix/client/v3/sync?timeout=0', { token: 'syt_not_a_token' }),
    wire.call('PUT', `/_matrix/client/v3/rooms/${room}/send/m.room.message/f`, { token: bob.token, body: { msgtype: 'm.text', body: 'x', n: 1.5 } }),
    wire.call('POST', '/_matrix/client/v3/createRoom', { token: bob.token, body: { preset: 7 } }),
  ]);

  const names = (s: string) => s.replaceAll(`_${suffix}`, '_SESSION').replaceAll(roomId, '!ROOM');
  const bodiesOf = (events: any[]) => events.filter((e) => e.type === 'm.room.message').map((e) => e.content.body);
  const seen = {
    flows: alice.flows,
    inviteState: inviteState.map((e: any) => [e.type, names(e.state_key), e.content.name ?? e.content.topic ?? e.content.membership ?? '']).sort(),
    joinedTimelineTypes: (joined.body.rooms?.join?.[roomId]?.timeline?.events ?? []).map((e: any) => e.type),
    retryKeptItsId: retried.body.event_id === ids[2],
    distinctIds: new Set(ids).size,
    incremental: timeline.map((e: any) => [e.type, e.content.body ?? e.content.topic, names(e.sender), typeof e.event_id, typeof e.origin_server_ts]),
    limited: incremental.body.rooms?.join?.[roomId]?.timeline?.limited,
    page1: bodiesOf(page1.body.chunk),
    page2: bodiesOf(page2.body.chunk),
    topic: topic.body,
    refusals: refusals.map((r) => [r.status, r.body?.errcode, typeof r.body?.error]),
  };
  return {
    seen: JSON.parse(names(JSON.stringify(seen))),
    bytes: { initialSync: initial.receivedBytes, incrementalSync: incremental.receivedBytes, send: sendBytes },
  };
}
