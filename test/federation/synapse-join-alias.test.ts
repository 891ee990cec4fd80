/**
 * Issue 11 "Proof", scenario 5: a Hearth user joins public Synapse rooms by alias: a room of the
 * default version, a v2 room (event ids `$opaque:server`, `[id, {sha256}]` references, state
 * resolution v2 with v1-style events) and a v9 room; then messages cross both ways and the room
 * state reads the same on both servers.
 */
import test from 'ava';
import { startHearth, type HearthServer } from '../integration/helpers/server.js';
import { registerUser, request } from '../integration/helpers/http.js';
import { startSynapse, type SynapsePeer } from '../integration/helpers/synapse.js';

let hearth: HearthServer;
let synapse: SynapsePeer;

test.before(async () => {
  [hearth, synapse] = await Promise.all([startHearth({ federated: true }), startSynapse()]);
});

test.after.always(async () => {
  await Promise.all([hearth?.stop(), synapse?.stop()]);
});

async function call(base: string, token: string, method: string, path: string, json?: unknown): Promise<any> {
  const res = await request(base, method, path, { token, ...(json !== undefined ? { json } : {}) });
  if (res.status !== 200) throw new Error(`${method} ${path} on ${base}: ${res.status} ${res.text}`);
  return res.body;
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}\n--- hearth ---\n${hearth.output().slice(-4000)}\n--- synapse ---\n${synapse.log().slice(-3000)}`);
}

async function bodies(base: string, token: string, roomId: string): Promise<string[]> {
  const page = await call(base, token, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=100`);
  return (page.chunk as any[]).filter((e) => e.type === 'm.room.message').map((e) => e.content.body).reverse();
}

const stateOf = (base: string, token: string, roomId: string) => call(base, token, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state`);

/** The room's state as (type, state_key) -> content, for comparing two servers' answers. */
function stateMap(events: any[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const e of events) out[`${e.type}|${e.state_key}`] = { content: e.content, event_id: e.event_id, sender: e.sender };
  return out;
}

for (const version of [undefined, '2', '9'] as const) {
  const label = version ? `v${version}` : 'the default version';
  test.serial(`scenario 5: a Hearth user joins a public Synapse room of ${label} by alias`, async (t) => {
    const owner = await synapse.registerUser(`owner${version ?? 'd'}`);
    const aliasLocal = `public${version ?? 'd'}`;
    const created = await call(synapse.clientUrl, owner.accessToken, 'POST', '/_matrix/client/v3/createRoom', {
      preset: 'public_chat',
      room_alias_name: aliasLocal,
      name: `Public ${label}`,
      topic: 'open to all',
      ...(version ? { room_version: version } : {}),
    });
    const roomId: string = created.room_id;
    await call(synapse.clientUrl, owner.accessToken, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/before`, { msgtype: 'm.text', body: 'before the join' });
    const guest = await registerUser(hearth.baseUrl, `guest${version ?? 'd'}`, 'secret-password-1');
    const alias = `#${aliasLocal}:${synapse.serverName}`;
    const joined = await call(hearth.baseUrl, guest.accessToken, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(alias)}`, {});
    t.is(joined.room_id, roomId);
    await eventually('the join on Synapse', async () => {
      const res = await request(synapse.clientUrl, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(guest.userId)}`, { token: owner.accessToken });
      return res.status === 200 && res.body.membership === 'join' ? true : undefined;
    });
    await call(hearth.baseUrl, guest.accessToken, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/g1`, { msgtype: 'm.text', body: 'hello from the gateway' });
    await eventually('the message on Synapse', async () => ((await bodies(synapse.clientUrl, owner.accessToken, roomId)).includes('hello from the gateway') ? true : undefined));
    // The reply is sent once the greeting arrived, so both servers order them the same way.
    await call(synapse.clientUrl, owner.accessToken, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/o1`, { msgtype: 'm.text', body: 'welcome' });
    const onSynapse = await eventually('both messages on Synapse', async () => {
      const b = await bodies(synapse.clientUrl, owner.accessToken, roomId);
      return b.includes('hello from the gateway') && b.includes('welcome') ? b : undefined;
    });
    const onHearth = await eventually('the reply on Hearth', async () => {
      const b = await bodies(hearth.baseUrl, guest.accessToken, roomId);
      return b.includes('welcome') ? b : undefined;
    });
    // Hearth's history starts at its join: what it has is the tail of Synapse's, in the same order.
    t.deepEqual(onHearth, ['hello from the gateway', 'welcome']);
    t.deepEqual(onSynapse.slice(-2), ['hello from the gateway', 'welcome']);
    const [hearthState, synapseState] = await Promise.all([stateOf(hearth.baseUrl, guest.accessToken, roomId), stateOf(synapse.clientUrl, owner.accessToken, roomId)]);
    t.deepEqual(stateMap(hearthState), stateMap(synapseState));
    const create = (hearthState as any[]).find((e) => e.type === 'm.room.create');
    t.is(create.content.room_version, version ?? create.content.room_version);
    if (version === '2') t.regex(create.event_id, /^\$[^:]+:/, 'a v2 event id names its server');
  });
}

test.serial('media crosses both ways over authenticated federation media: the bytes and the type arrive intact', async (t) => {
  const owner = await synapse.registerUser('media-owner');
  const guest = await registerUser(hearth.baseUrl, 'media-guest', 'secret-password-1');
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('synapse side '.repeat(500))]);
  const up = await fetch(`${synapse.clientUrl}/_matrix/media/v3/upload?filename=pic.png`, { method: 'POST', headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'image/png' }, body: png });
  const { content_uri } = (await up.json()) as { content_uri: string };
  const [, server, mediaId] = /^mxc:\/\/([^/]+)\/(.+)$/.exec(content_uri)!;
  const viaHearth = await fetch(`${hearth.baseUrl}/_matrix/client/v1/media/download/${server}/${mediaId}`, { headers: { authorization: `Bearer ${guest.accessToken}` } });
  t.is(viaHearth.status, 200, await viaHearth.clone().text());
  t.is(viaHearth.headers.get('content-type'), 'image/png');
  t.deepEqual(Buffer.from(await viaHearth.arrayBuffer()), png);
  // The second download is served from the gateway's copy (same bytes).
  const again = await fetch(`${hearth.baseUrl}/_matrix/client/v1/media/download/${server}/${mediaId}`, { headers: { authorization: `Bearer ${guest.accessToken}` } });
  t.deepEqual(Buffer.from(await again.arrayBuffer()), png);

  const text = Buffer.from('from the gateway\n'.repeat(300));
  const mine = await fetch(`${hearth.baseUrl}/_matrix/media/v3/upload?filename=notes.txt`, { method: 'POST', headers: { authorization: `Bearer ${guest.accessToken}`, 'content-type': 'text/plain' }, body: text });
  const local = ((await mine.json()) as { content_uri: string }).content_uri;
  const [, ourServer, ourId] = /^mxc:\/\/([^/]+)\/(.+)$/.exec(local)!;
  const viaSynapse = await fetch(`${synapse.clientUrl}/_matrix/client/v1/media/download/${ourServer}/${ourId}`, { headers: { authorization: `Bearer ${owner.accessToken}` } });
  t.is(viaSynapse.status, 200, await viaSynapse.clone().text());
  t.regex(viaSynapse.headers.get('content-type') ?? '', /^text\/plain/);
  t.deepEqual(Buffer.from(await viaSynapse.arrayBuffer()), text);
  // Unknown media is 404 through both.
  const missing = await fetch(`${hearth.baseUrl}/_matrix/client/v1/media/download/${server}/doesNotExist1`, { headers: { authorization: `Bearer ${guest.accessToken}` } });
  t.is(missing.status, 404);
});
