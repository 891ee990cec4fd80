/**
 * Reporting content against a running Hearth: matrix-js-sdk reports an event and a room, a user
 * report over HTTP, the spec's refusals (not joined, unknown, redacted), and the admins' side through
 * Synapse's admin API with an admin made by `hearth user add --admin` while the gateway runs.
 */
import './helpers/sdk-quiet.js';
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as sdk from 'matrix-js-sdk';
import { startHearth, type HearthServer } from './helpers/server.js';
import { registerUser, request, sendText } from './helpers/http.js';

let hearth: HearthServer;

test.before(async () => {
  hearth = await startHearth();
});
test.after.always(async () => {
  await hearth?.stop();
});

test('reports are accepted where the spec allows, refused where it does not, and admins list, read and close them', async (t) => {
  const alice = await registerUser(hearth.baseUrl, 'alice', 'pw-alice-report');
  const mallory = await registerUser(hearth.baseUrl, 'mallory', 'pw-mallory-report');
  const outsider = await registerUser(hearth.baseUrl, 'outsider', 'pw-outsider-report');
  const created = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, json: { preset: 'public_chat', name: 'Hall', room_alias_name: 'hall' } });
  const roomId = created.body.room_id as string;
  await request(hearth.baseUrl, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { token: mallory.accessToken, json: {} });
  const spam = await sendText(hearth.baseUrl, mallory.accessToken, roomId, 's1', 'buy cheap watches');
  const alreadyGone = await sendText(hearth.baseUrl, mallory.accessToken, roomId, 's2', 'more spam');
  await request(hearth.baseUrl, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/redact/${encodeURIComponent(alreadyGone)}/r1`, { token: alice.accessToken, json: {} });

  const client = sdk.createClient({ baseUrl: hearth.baseUrl, accessToken: alice.accessToken, userId: alice.userId, deviceId: alice.deviceId });
  t.deepEqual(await client.reportEvent(roomId, spam, -100, 'spam'), {});
  t.deepEqual(await client.reportRoom(roomId, 'spam room'), {});
  const userReport = await request(hearth.baseUrl, 'POST', `/_matrix/client/v3/users/${encodeURIComponent(mallory.userId)}/report`, { token: alice.accessToken, json: { reason: 'spammer' } });
  t.is(userReport.status, 200);

  const refusals: [string, string, unknown, number, string][] = [
    [outsider.accessToken, `/rooms/${encodeURIComponent(roomId)}/report/${encodeURIComponent(spam)}`, { reason: 'x' }, 404, 'M_NOT_FOUND'],
    [alice.accessToken, `/rooms/${encodeURIComponent(roomId)}/report/${encodeURIComponent('$nope')}`, { reason: 'x' }, 404, 'M_NOT_FOUND'],
    [alice.accessToken, `/rooms/${encodeURIComponent(roomId)}/report/${encodeURIComponent(alreadyGone)}`, { reason: 'x' }, 404, 'M_NOT_FOUND'],
    [alice.accessToken, `/rooms/${encodeURIComponent('!nope:' + hearth.serverName)}/report`, { reason: 'x' }, 404, 'M_NOT_FOUND'],
    [alice.accessToken, `/users/${encodeURIComponent('@nobody:' + hearth.serverName)}/report`, { reason: 'x' }, 404, 'M_NOT_FOUND'],
    [alice.accessToken, `/rooms/${encodeURIComponent(roomId)}/report`, {}, 400, 'M_MISSING_PARAM'],
    [alice.accessToken, `/rooms/${encodeURIComponent(roomId)}/report/${encodeURIComponent(spam)}`, { reason: 'x', score: 5 }, 400, 'M_INVALID_PARAM'],
    [alice.accessToken, `/rooms/${encodeURIComponent(roomId)}/report/${encodeURIComponent(spam)}`, { reason: 7 }, 400, 'M_BAD_JSON'],
  ];
  for (const [token, path, json, status, errcode] of refusals) {
    const res = await request(hearth.baseUrl, 'POST', `/_matrix/client/v3${path}`, { token, json });
    t.is(res.status, status, path);
    t.is(res.body.errcode, errcode, path);
  }
  // A room report does not need a membership.
  t.is((await request(hearth.baseUrl, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/report`, { token: outsider.accessToken, json: { reason: '' } })).status, 200);

  t.is((await request(hearth.baseUrl, 'GET', '/_synapse/admin/v1/event_reports', { token: alice.accessToken })).status, 403, 'not an admin');
  await promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'user', 'add', 'boss', '--admin', '--password', 'pw-boss-report'], {
    env: { ...process.env, HEARTH_DATA_DIR: hearth.dataDir },
  });
  const login = await request(hearth.baseUrl, 'POST', '/_matrix/client/v3/login', { json: { type: 'm.login.password', identifier: { type: 'm.id.user', user: 'boss' }, password: 'pw-boss-report' } });
  const admin = login.body.access_token as string;
  const list = await request(hearth.baseUrl, 'GET', '/_synapse/admin/v1/event_reports', { token: admin });
  t.is(list.status, 200);
  t.is(list.body.total, 1, 'only event reports are listed there');
  const [report] = list.body.event_reports;
  t.like(report, { room_id: roomId, name: 'Hall', event_id: spam, user_id: alice.userId, reason: 'spam', score: -100, sender: mallory.userId, canonical_alias: `#hall:${hearth.serverName}` });
  const details = await request(hearth.baseUrl, 'GET', `/_synapse/admin/v1/event_reports/${report.id}`, { token: admin });
  t.is(details.body.event_json.content.body, 'buy cheap watches');
  t.is((await request(hearth.baseUrl, 'DELETE', `/_synapse/admin/v1/event_reports/${report.id}`, { token: admin })).status, 200);
  t.is((await request(hearth.baseUrl, 'GET', `/_synapse/admin/v1/event_reports/${report.id}`, { token: admin })).status, 404);
  t.regex(hearth.output(), /content reported: user/, 'reports are logged for the admins');
});
