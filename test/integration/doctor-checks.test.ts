/**
 * `hearth doctor`'s checks beyond the database (issue 14, the operator's CLI): a healthy federating
 * gateway gives no findings (its ports answer, the broker answers a CONNECT, its server name
 * resolves and answers as this server, key and certificate are valid, the clock is right); a port
 * the gateway does not answer on, a port another program holds while the gateway is stopped, and a
 * clock that reads before the newest event the server signed (or before the configured earliest
 * date) are errors with what to do, exit 1.
 */
import test from 'ava';
import { createServer, type Server } from 'node:net';
import { loadConfig } from '../../src/config/config.js';
import { runDoctorCommand } from '../../src/cli/doctor.js';
import { cliEnvOf, freePort, runCli, startHearth } from './helpers/server.js';
import { registerUser, request, sendText } from './helpers/http.js';

const doctor = (env: Record<string, string>) => runCli(['doctor'], env);

const lines = (text: string, level: string) => text.split('\n').filter((l) => l.startsWith(level));

test('a healthy running gateway: every check ok, no findings, exit 0; a port it does not answer on is an error', async (t) => {
  const server = await startHearth({ t, federated: true });
  t.teardown(() => {
    if (!t.passed) t.log(server.output());
  });
  const healthy = await doctor(cliEnvOf(server));
  t.is(healthy.code, 0, healthy.stdout + healthy.stderr);
  t.deepEqual(lines(healthy.stdout, 'ERROR'), []);
  t.deepEqual(lines(healthy.stdout, 'warning'), []);
  t.regex(healthy.stdout, /\nno problems found\n$/);
  t.regex(healthy.stdout, new RegExp(`gateway running \\(pid ${server.pid()}, `));
  t.regex(healthy.stdout, new RegExp(`^ok +ports +port ${server.port} \\(the Client-Server API, 127\\.0\\.0\\.1:${server.port}\\) answers /_matrix/client/versions$`, 'm'));
  t.regex(healthy.stdout, new RegExp(`^ok +ports +port ${server.federationPort} \\(the federation API, .*\\) answers /_matrix/federation/v1/version over TLS$`, 'm'));
  t.regex(healthy.stdout, new RegExp(`^ok +ports +port ${server.mqttPort} \\(the MQTT broker, .*\\) accepts connections$`, 'm'));
  t.regex(healthy.stdout, /^ok +mqtt +the embedded broker \(mqtt:\/\/127\.0\.0\.1:\d+\) answered a CONNECT \(refused an anonymous login/m);
  t.regex(healthy.stdout, new RegExp(`^ok +reachability +${server.serverName.replace(/\./g, '\\.')} resolves to 127\\.0\\.0\\.1:${server.federationPort}; 127\\.0\\.0\\.1 answers /_matrix/federation/v1/version as this server`, 'm'));
  t.regex(healthy.stdout, /^ok +clock +the gateway judges the clock right/m);
  t.regex(healthy.stdout, /^ok +keys +signing key ed25519:\S+ \(\S+\) loads$/m);
  t.regex(healthy.stdout, /^ok +tls +the federation certificate \(self-signed\) is valid until /m);
  t.regex(healthy.stdout, /^ok +peers +no peer servers/m);

  // The configuration names a client port the gateway does not answer on (hearth.yaml changed
  // since it started, or the listener is gone): an error, and the mismatch said.
  const closed = await freePort();
  const res = await doctor(cliEnvOf(server, { HEARTH_CLIENT_PORT: String(closed) }));
  t.is(res.code, 1, res.stdout);
  t.regex(res.stdout, new RegExp(`^ERROR +ports +port ${closed} \\(the Client-Server API, 127\\.0\\.0\\.1:${closed}\\): nothing answers as expected although the gateway runs \\(.*ECONNREFUSED.*\\)$`, 'm'));
  t.regex(res.stdout, /^ +-> check the gateway's log/m);
  t.regex(res.stdout, new RegExp(`^warning +ports +the running gateway listens for the Client-Server API on port ${server.port}, the configuration says ${closed}$`, 'm'));
  t.regex(res.stdout, /\n1 error, 1 warning\n$/);
});

test('a stopped gateway whose MQTT port another program holds: an error naming the port and what to do', async (t) => {
  const server = await startHearth({ t });
  const env = cliEnvOf(server);
  await server.kill('SIGTERM');
  // Another broker (Debian's mosquitto, say) took the port meanwhile.
  const squatter: Server = createServer();
  await new Promise<void>((done) => squatter.listen({ host: '0.0.0.0', port: server.mqttPort }, done));
  t.teardown(() => void squatter.close());
  const res = await doctor(env);
  t.is(res.code, 1, res.stdout);
  t.regex(res.stdout, /gateway stopped\n/);
  t.regex(res.stdout, new RegExp(`^ERROR +ports +port ${server.mqttPort} \\(the MQTT broker, 0\\.0\\.0\\.0:${server.mqttPort}\\) is already in use: .*set mqtt\\.port in hearth\\.yaml \\(or HEARTH_MQTT_PORT\\)`, 'm'));
  t.regex(res.stdout, new RegExp(`-> the gateway would not start\\. Which program holds it: ss -ltnp 'sport = :${server.mqttPort}'`));
  t.regex(res.stdout, new RegExp(`^ok +ports +port ${server.port} \\(the Client-Server API, .*\\) is free for the gateway$`, 'm'));
  t.regex(res.stdout, /^ok +database +\d+ entries/m, 'stopped: the database files are checked');
});

test('a clock behind the newest event this server signed, or before the configured earliest date: an error', async (t) => {
  const server = await startHearth({ t, federated: true });
  const user = await registerUser(server.baseUrl, 'clock-person', 'clock person password');
  const room = await request(server.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token: user.accessToken, json: {} });
  const sent = await sendText(server.baseUrl, user.accessToken, room.body.room_id, 'clock-1', 'signed now');
  const event = await request(server.baseUrl, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(room.body.room_id)}/event/${encodeURIComponent(sent)}`, { token: user.accessToken });
  const signedAt = event.body.origin_server_ts as number;
  t.true(Number.isSafeInteger(signedAt));
  const env = cliEnvOf(server);
  await server.kill('SIGTERM');

  // In process, with the clock the doctor judges by injected: right, then an hour behind the event.
  const config = loadConfig({ dataDir: server.dataDir, env: { ...env, HEARTH_CLIENT_PORT: String(await freePort()), HEARTH_FEDERATION_PORT: String(await freePort()), HEARTH_MQTT_PORT: String(await freePort()) } });
  const run = async (now: number) => {
    const out: string[] = [];
    const code = await runDoctorCommand([], { config, now: () => now, out: (l) => out.push(l), err: (l) => out.push(l) });
    return { code, text: out.join('\n') };
  };
  const right = await run(Date.now());
  t.regex(right.text, new RegExp(`^ok +clock +\\S+; the newest event this server signed is from ${new Date(signedAt).toISOString()}$`, 'm'));
  t.deepEqual(lines(right.text, 'ERROR'), []);

  const behind = await run(signedAt - 3600_000);
  t.is(behind.code, 1);
  t.regex(behind.text, new RegExp(`^ERROR +clock +the clock reads ${new Date(signedAt - 3600_000).toISOString()}, before ${new Date(signedAt).toISOString()}, when this server last signed an event$`, 'm'));
  t.regex(behind.text, /-> set the clock: enable NTP \(timedatectl set-ntp true/);

  // The configured earliest date (federation.clock_not_before) after the real time.
  const floor = new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10);
  const res = await doctor({ ...env, HEARTH_FEDERATION_CLOCK_NOT_BEFORE: floor });
  t.is(res.code, 1, res.stdout);
  t.regex(res.stdout, new RegExp(`^ERROR +clock +the clock reads \\S+, before ${floor}T00:00:00\\.000Z, the earliest possible date$`, 'm'));
});
