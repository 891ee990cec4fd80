/**
 * Issue 11 "Proof", scenario 6: sensor rooms stay home. A device's room (made by the MQTT bridge
 * with `m.federate: false`) refuses a Synapse user's join and an invite of one, while an ordinary
 * room of the same gateway federates; the log of every outgoing federation request over the test
 * (`federation request` lines, info level) names the ordinary room and never the sensor room.
 */
import test from 'ava';
import { request } from '../integration/helpers/http.js';
import { silenceSdk } from '../integration/helpers/sdk.js';
import { startMqttGateway, type DeviceCredentials, type MqttGateway } from '../integration/mqtt-helpers/gateway.js';
import { publish } from '../integration/mqtt-helpers/mosquitto.js';
import { joinDeviceRoom, startPerson, type Person } from '../integration/mqtt-helpers/matrix.js';
import { startSynapse, type SynapsePeer } from '../integration/helpers/synapse.js';

silenceSdk();

let gateway: MqttGateway;
let synapse: SynapsePeer;
let alice: Person;
let device: DeviceCredentials;

test.before(async () => {
  [gateway, synapse] = await Promise.all([startMqttGateway({ federated: true, env: { HEARTH_LOG_LEVEL: 'info' } }), startSynapse()]);
  [alice, device] = await Promise.all([startPerson(gateway, 'alice', 'alice password', { admin: true }), gateway.addDevice('porch')]);
});

test.after.always(async () => {
  await gateway?.stop();
  alice?.client.stopClient();
  await synapse?.stop();
});

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}\n${gateway.server.output().slice(-3000)}`);
}

/** The rooms and paths of every outgoing federation request the gateway logged. */
function outgoingRequests(): { path: string; rooms: string[] }[] {
  const out: { path: string; rooms: string[] }[] = [];
  for (const line of gateway.server.output().split('\n')) {
    if (!line.includes('"federation request"')) continue;
    try {
      const entry = JSON.parse(line) as { path: string; rooms: string[] };
      out.push({ path: entry.path, rooms: entry.rooms ?? [] });
    } catch {
      // A line cut by the output tail.
    }
  }
  return out;
}

test.serial('a sensor room refuses Synapse users; an ordinary room federates; no request ever names the sensor room', async (t) => {
  const broker = { port: gateway.server.mqttPort, username: device.username, password: device.password };
  await publish(broker, 'homeassistant/sensor/porch/temperature/config', JSON.stringify({
    name: 'Temperature', uniq_id: 'porch_temperature', stat_t: 'porch/temperature', unit_of_meas: '°C', dev_cla: 'temperature',
    dev: { ids: ['porch-1'], name: 'Porch sensor' },
  }), { retain: true });
  await publish(broker, 'porch/temperature', '21.5');
  const sensorRoom = await joinDeviceRoom(alice.client, `@ha.porch-1:${gateway.server.serverName}`).catch((err: Error) => {
    throw new Error(`${err.message}\n${gateway.server.output().slice(-3000)}`);
  });
  const create = await request(gateway.server.baseUrl, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(sensorRoom)}/state/m.room.create/`, { token: alice.accessToken });
  t.is(create.body['m.federate'], false);

  const sam = await synapse.registerUser('sam');
  // An invite of a Synapse user into the sensor room: refused before anything is sent.
  const invite = await request(gateway.server.baseUrl, 'POST', `/_matrix/client/v3/rooms/${encodeURIComponent(sensorRoom)}/invite`, { token: alice.accessToken, json: { user_id: sam.userId } });
  t.is(invite.status, 403);
  t.is(invite.body.errcode, 'M_FORBIDDEN');
  // The Synapse user tries to join it through the gateway: make_join answers 403, Synapse refuses the join.
  const join = await request(synapse.clientUrl, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(sensorRoom)}?server_name=${encodeURIComponent(gateway.server.serverName)}`, { token: sam.accessToken, json: {} });
  t.not(join.status, 200);
  const member = await request(gateway.server.baseUrl, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(sensorRoom)}/state/m.room.member/${encodeURIComponent(sam.userId)}`, { token: alice.accessToken });
  t.is(member.status, 404, 'the Synapse user never became a member');

  // An ordinary room of the same gateway federates: the invite crosses and the join comes back.
  const created = await request(gateway.server.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token: alice.accessToken, json: { preset: 'private_chat', invite: [sam.userId] } });
  t.is(created.status, 200, created.text);
  const roomId: string = created.body.room_id;
  await eventually('the invite on Synapse', async () => {
    const sync = await request(synapse.clientUrl, 'GET', '/_matrix/client/v3/sync?timeout=0', { token: sam.accessToken });
    return sync.body?.rooms?.invite?.[roomId] ? true : undefined;
  });
  const joined = await request(synapse.clientUrl, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { token: sam.accessToken, json: {} });
  t.is(joined.status, 200, joined.text);
  // More sensor traffic after the ordinary room federates: still nothing of the sensor room leaves.
  await publish(broker, 'porch/temperature', '22.0');
  await request(gateway.server.baseUrl, 'PUT', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/m1`, { token: alice.accessToken, json: { msgtype: 'm.text', body: 'hi sam' } });
  await eventually('the message on Synapse', async () => {
    const page = await request(synapse.clientUrl, 'GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=20`, { token: sam.accessToken });
    return (page.body?.chunk as any[] | undefined)?.some((e) => e.content?.body === 'hi sam') ? true : undefined;
  });

  const requests = outgoingRequests();
  t.true(requests.some((r) => r.rooms.includes(roomId) || r.path.includes(encodeURIComponent(roomId))), 'the ordinary room was federated (the log is not empty)');
  const leaks = requests.filter((r) => r.rooms.includes(sensorRoom) || r.path.includes(encodeURIComponent(sensorRoom)) || r.path.includes(sensorRoom));
  t.deepEqual(leaks, []);
});
