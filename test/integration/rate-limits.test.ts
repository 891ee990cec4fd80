/**
 * Rate limits and the password-hashing queue against a running gateway (issue 10, finding 3):
 * - wrong passwords for an account: 403 until rc_login.failed_attempts is spent, then 429
 *   M_LIMIT_EXCEEDED with retry_after_ms and Retry-After, even with the right password;
 * - an unknown user answers exactly like a known one, and is limited the same way;
 * - rc_login.address, rc_registration and rc_message give 429 past their bursts;
 * - MQTT CONNECTs with a wrong password: CONNACK 4 until rc_mqtt_connect.failed_username is spent,
 *   then CONNACK 3, even with the right password (mqtt.js);
 * - with no rate limits at all, 200 parallel wrong-password logins do not stall a send: the
 *   hashing queue runs one scrypt at a time and refuses what it cannot queue (429).
 */
import test from 'ava';
import mqtt from 'mqtt';
import { request, registerUser, type RegisteredUser } from './helpers/http.js';
import { startMqttGateway, type MqttGateway } from './mqtt-helpers/gateway.js';

const LIMITS_YAML = `rate_limits:
  enabled: true
  rc_message: { per_second: 0.001, burst_count: 4 }
  rc_registration: { per_second: 0.001, burst_count: 2 }
  rc_login:
    address: { per_second: 0.001, burst_count: 14 }
    account: { per_second: 0.001, burst_count: 100 }
    failed_attempts: { per_second: 0.001, burst_count: 3 }
  rc_mqtt_connect:
    failed_address: { per_second: 0.001, burst_count: 100 }
    failed_username: { per_second: 0.001, burst_count: 3 }
`;

let limited: MqttGateway;
let registered: RegisteredUser[] = [];

test.before(async () => {
  limited = await startMqttGateway({ configYaml: LIMITS_YAML, env: { HEARTH_RATE_LIMITS: 'on' } });
});
test.after.always(async () => {
  await limited?.stop();
});

function login(baseUrl: string, user: string, password: string) {
  return fetch(`${baseUrl}/_matrix/client/v3/login`, {
    method: 'POST',
    body: JSON.stringify({ type: 'm.login.password', identifier: { type: 'm.id.user', user }, password }),
  }).then(async (res) => ({ status: res.status, body: (await res.json()) as any, retryAfter: res.headers.get('retry-after') }));
}

test.serial('rc_registration: two accounts per address, then 429 M_LIMIT_EXCEEDED', async (t) => {
  const base = limited.server.baseUrl;
  registered = [await registerUser(base, 'reg-one', 'pw-reg-one'), await registerUser(base, 'reg-two', 'pw-reg-two')];
  const third = await request(base, 'POST', '/_matrix/client/v3/register', {
    json: { username: 'reg-three', password: 'pw', auth: { type: 'm.login.dummy' } },
  });
  t.is(third.status, 429, third.text);
  t.is(third.body.errcode, 'M_LIMIT_EXCEEDED');
  t.true(third.body.retry_after_ms > 0);
  const available = await request(base, 'GET', '/_matrix/client/v3/register/available?username=reg-three');
  t.is(available.status, 200, 'the refused account was not created');
});

test.serial('rc_message: a burst of sends, then 429 with retry_after_ms', async (t) => {
  const base = limited.server.baseUrl;
  const [alice] = registered;
  const room = await request(base, 'POST', '/_matrix/client/v3/createRoom', { token: alice!.accessToken, json: {} });
  t.is(room.status, 200, room.text);
  const statuses: number[] = [];
  let refused: any;
  for (let i = 0; i < 6; i++) {
    const res = await request(base, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(room.body.room_id)}/send/m.room.message/t${i}`, {
      token: alice!.accessToken,
      json: { msgtype: 'm.text', body: `hello ${i}` },
    });
    statuses.push(res.status);
    if (res.status === 429) refused ??= res.body;
  }
  t.deepEqual(statuses, [200, 200, 200, 200, 429, 429]);
  t.is(refused.errcode, 'M_LIMIT_EXCEEDED');
  t.true(refused.retry_after_ms > 0 && refused.retry_after_ms <= 1000 * 1000);
  // Another user has their own bucket.
  const bob = registered[1]!;
  const other = await request(base, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(room.body.room_id)}/send/m.room.message/b0`, {
    token: bob.accessToken,
    json: { msgtype: 'm.text', body: 'not joined' },
  });
  t.is(other.status, 403, 'bob is limited on his own (and refused for not being joined, not for alice\'s sends)');
});

test.serial('rc_login.failed_attempts: three wrong passwords, then 429 even with the right one', async (t) => {
  const base = limited.server.baseUrl;
  await limited.addUser('carol', 'carol-right-pw');
  for (let i = 0; i < 3; i++) {
    const res = await login(base, 'carol', `wrong-${i}`);
    t.is(res.status, 403);
    t.is(res.body.errcode, 'M_FORBIDDEN');
  }
  const locked = await login(base, 'carol', 'carol-right-pw');
  t.is(locked.status, 429);
  t.is(locked.body.errcode, 'M_LIMIT_EXCEEDED');
  t.true(locked.body.retry_after_ms > 0);
  t.is(locked.retryAfter, String(Math.ceil(locked.body.retry_after_ms / 1000)), 'Retry-After header in seconds');
});

test.serial('an unknown user answers like a known one and is limited the same way', async (t) => {
  const base = limited.server.baseUrl;
  await limited.addUser('dave', 'dave-right-pw');
  for (let i = 0; i < 3; i++) {
    const known = await login(base, 'dave', `wrong-${i}`);
    const unknown = await login(base, 'nobody-here', `wrong-${i}`);
    t.deepEqual(unknown, known, 'same status, same body');
  }
  const [known, unknown] = [await login(base, 'dave', 'x'), await login(base, 'nobody-here', 'x')];
  t.is(known.status, 429);
  t.is(unknown.status, 429, 'a limit only real accounts hit would tell which exist');
});

test.serial('rc_login.address: logins from one address stop at the burst', async (t) => {
  const base = limited.server.baseUrl;
  await limited.addUser('erin', 'erin-right-pw');
  const statuses: number[] = [];
  for (let i = 0; i < 16; i++) statuses.push((await login(base, 'erin', 'erin-right-pw')).status);
  const firstRefusal = statuses.indexOf(429);
  t.true(firstRefusal > 0, statuses.join(','));
  t.true(statuses.slice(0, firstRefusal).every((s) => s === 200), statuses.join(','));
  t.true(statuses.slice(firstRefusal).every((s) => s === 429), statuses.join(','));
});

function mqttConnect(port: number, username: string, password: string): Promise<number> {
  return new Promise((resolve) => {
    const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { username, password, reconnectPeriod: 0, connectTimeout: 20_000 });
    client.once('connect', () => {
      client.end(true);
      resolve(0);
    });
    client.once('error', (err: Error & { code?: number }) => {
      client.end(true);
      resolve(typeof err.code === 'number' ? err.code : -1);
    });
  });
}

test.serial('MQTT CONNECT: wrong passwords get CONNACK 4, then CONNACK 3 even with the right one', async (t) => {
  const device = await limited.addDevice('limited-sensor');
  const neighbour = await limited.addDevice('neighbour-sensor');
  const port = limited.server.mqttPort;
  const codes: number[] = [];
  for (let i = 0; i < 3; i++) codes.push(await mqttConnect(port, device.username, `wrong-${i}`));
  codes.push(await mqttConnect(port, device.username, device.password));
  t.deepEqual(codes, [4, 4, 4, 3]);
  t.is(await mqttConnect(port, neighbour.username, neighbour.password), 0, 'other usernames from the same address still connect');
});

test('with no rate limits, a flood of wrong-password logins does not stall sends', async (t) => {
  const open = await startMqttGateway({ t, configYaml: '', env: { HEARTH_RATE_LIMITS: 'off' } });
  const base = open.server.baseUrl;
  await open.addUser('flooded', 'flooded-right-pw');
  const sender = await registerUser(base, 'sender', 'pw-sender');
  const room = await request(base, 'POST', '/_matrix/client/v3/createRoom', { token: sender.accessToken, json: {} });
  t.is(room.status, 200);

  let hashedBeforeSend = -1;
  let hashed = 0;
  const flood = Array.from({ length: 200 }, (_, i) =>
    login(base, 'flooded', `wrong-${i}`).then((res) => {
      if (res.status === 403) hashed++;
      return res;
    }),
  );
  // Let the flood reach the server before the send.
  await new Promise((r) => setTimeout(r, 300));
  const send = await request(base, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(room.body.room_id)}/send/m.room.message/during-flood`, {
    token: sender.accessToken,
    json: { msgtype: 'm.text', body: 'still here' },
  });
  hashedBeforeSend = hashed;
  const answers = await Promise.all(flood);
  t.is(send.status, 200, send.text + open.server.output().slice(-3000));
  t.regex(send.body.event_id, /^\$/);
  for (const res of answers) {
    t.true(
      (res.status === 403 && res.body.errcode === 'M_FORBIDDEN') || (res.status === 429 && res.body.errcode === 'M_LIMIT_EXCEEDED' && res.body.retry_after_ms > 0),
      JSON.stringify(res),
    );
  }
  t.true(answers.some((r) => r.status === 429), 'the queue refused what it could not hold');
  // Before the queue, the send's LevelDB write waited behind every queued scrypt on libuv's pool,
  // so it finished after nearly all 200 answers; now one scrypt at a time runs beside it.
  t.log('hashedBeforeSend', hashedBeforeSend);
  t.true(hashedBeforeSend < 50, `${hashedBeforeSend} wrong passwords were checked before the send finished`);
});
