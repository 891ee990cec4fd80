/**
 * MSC3079's CBOR part (issue 12 "Proof" 5): a client speaking CBOR (written and read with cbor-x)
 * runs the same chat session as a JSON client against the real server and sees the same things;
 * one that asks for the integer key table gets it; malformed CBOR gets a Matrix error, in CBOR.
 */
import test from 'ava';
import { Decoder } from 'cbor-x';
import { startHearth, type HearthServer } from './helpers/server.js';
import { chatSession, Wire } from './helpers/wire-formats.js';

let hearth: HearthServer;

test.before(async () => {
  hearth = await startHearth();
});

test.after.always(async () => {
  await hearth?.stop();
});

test('/versions advertises the CBOR part of MSC3079, in the format asked for', async (t) => {
  const json = await new Wire(hearth.baseUrl, 'json').ok('GET', '/_matrix/client/versions');
  t.deepEqual(json.body['org.matrix.msc3079.low_bandwidth'], { cbor_enum_version: 1 });
  t.is(json.contentType, 'application/json', 'as Synapse labels it, no charset parameter');
  const cbor = await new Wire(hearth.baseUrl, 'cbor').ok('GET', '/_matrix/client/versions');
  t.is(cbor.contentType, 'application/cbor');
  t.deepEqual(cbor.body, json.body);
  const keyed = await new Wire(hearth.baseUrl, 'cbor-keys').ok('GET', '/_matrix/client/versions');
  t.deepEqual(keyed.integerKeys.sort((a, b) => a - b), [99, 100], 'unstable_features and versions as their integers');
  t.deepEqual(keyed.body, json.body);
});

test('the same chat session in JSON, CBOR and CBOR with integer keys: the same results, fewer bytes', async (t) => {
  const json = await chatSession(new Wire(hearth.baseUrl, 'json'), 'j');
  const cbor = await chatSession(new Wire(hearth.baseUrl, 'cbor'), 'c');
  const keyed = await chatSession(new Wire(hearth.baseUrl, 'cbor-keys'), 'k');

  // What the session saw, checked once on the JSON run...
  const seen = json.seen as any;
  // Three events a page, newest first: the topic change takes the first page's third place.
  t.deepEqual(seen.page1, ['reading 5: 21.5 °C', 'reading 4: 21.4 °C']);
  t.deepEqual(seen.page2, ['reading 3: 21.3 °C', 'reading 2: 21.2 °C', 'reading 1: 21.1 °C']);
  t.deepEqual(seen.topic, { topic: 'Sensors, all five' });
  t.true(seen.retryKeptItsId);
  t.is(seen.distinctIds, 5);
  t.deepEqual(seen.incremental.map((e: unknown[]) => e[1]), ['reading 1: 21.1 °C', 'reading 2: 21.2 °C', 'reading 3: 21.3 °C', 'reading 4: 21.4 °C', 'reading 5: 21.5 °C', 'Sensors, all five']);
  t.true(seen.inviteState.some((s: unknown[]) => s[0] === 'm.room.name' && s[2] === 'Kitchen'));
  t.deepEqual(seen.refusals, [
    [404, 'M_NOT_FOUND', 'string'],
    [401, 'M_UNKNOWN_TOKEN', 'string'],
    [400, 'M_BAD_JSON', 'string'],
    [400, 'M_BAD_JSON', 'string'],
  ]);
  // ... and the CBOR runs saw exactly that.
  t.deepEqual(cbor.seen, json.seen);
  t.deepEqual(keyed.seen, json.seen);

  t.log('bytes (initial sync, incremental sync, one send: request + answer)', { json: json.bytes, cbor: cbor.bytes, keyed: keyed.bytes });
  for (const part of ['initialSync', 'incrementalSync', 'send'] as const) {
    t.true(cbor.bytes[part] < json.bytes[part], `${part}: CBOR smaller than JSON`);
    t.true(keyed.bytes[part] < cbor.bytes[part], `${part}: integer keys smaller still`);
  }
});

test('malformed CBOR gets a Matrix error, in CBOR for a CBOR client and in JSON for one that asks for JSON', async (t) => {
  const { accessToken } = await (async () => {
    const wire = new Wire(hearth.baseUrl, 'json');
    const params = { username: 'carol', password: 'correct horse' };
    const challenge = await wire.call('POST', '/_matrix/client/v3/register', { body: params });
    const done = await wire.ok('POST', '/_matrix/client/v3/register', { body: { ...params, auth: { type: 'm.login.dummy', session: challenge.body.session } } });
    return { accessToken: done.body.access_token as string };
  })();
  const truncated = Uint8Array.from([0xa2, 0x61, 0x61]); // a map of two entries that ends in its first key
  const cbor = await new Wire(hearth.baseUrl, 'cbor').call('POST', '/_matrix/client/v3/createRoom', { token: accessToken, rawBody: truncated });
  t.is(cbor.status, 400);
  t.is(cbor.contentType, 'application/cbor');
  t.is(cbor.body.errcode, 'M_NOT_JSON');
  t.regex(cbor.body.error, /ends inside a value/);

  const res = await fetch(`${hearth.baseUrl}/_matrix/client/v3/createRoom`, {
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/cbor', accept: 'application/json' },
    body: Uint8Array.from([0xc1, 0x00]), // tag 1 (a date): not in the JSON data model
  });
  t.is(res.status, 400);
  t.regex(res.headers.get('content-type') ?? '', /^application\/json/);
  t.like(await res.json(), { errcode: 'M_NOT_JSON' });

  // An unknown route still answers in the client's format, with the same errcode as for JSON.
  const unknown = await fetch(`${hearth.baseUrl}/_matrix/client/v3/no/such/thing`, { headers: { accept: 'application/cbor' } });
  t.is(unknown.status, 404);
  t.deepEqual(new Decoder({ useRecords: false }).decode(Buffer.from(await unknown.arrayBuffer())), { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' });
});
