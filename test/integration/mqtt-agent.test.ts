/**
 * The project's own device agent (devices/agent, Home Assistant convention) against the real
 * gateway with the credentials of `hearth device add`: its discovery, state and availability topics
 * must pass the default ACL (a device owns `<name>/...`, as ESPHome publishes), its command topic
 * subscription must be granted, and a command from Matrix must switch the simulated plug.
 */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as sdk from 'matrix-js-sdk';
import { silenceSdk } from './helpers/sdk.js';
import { agentSuite } from './mqtt-helpers/agent-suite.js';
import { joinDeviceRoom, stateContent, waitForState, waitForTimelineEvent } from './mqtt-helpers/matrix.js';

silenceSdk();

const suite = agentSuite('hearth-agent-it-');
const { workDir } = suite;

test.serial('the device agent (Home Assistant convention) becomes a room and obeys a command from Matrix', async (t) => {
  const credentials = await suite.gateway.addDevice('porch-plug');
  const credentialsFile = join(workDir, 'porch-plug.json');
  writeFileSync(credentialsFile, JSON.stringify(credentials));
  suite.startAgent(['--broker', `mqtt://127.0.0.1:${suite.gateway.server.mqttPort}`, '--convention', 'homeassistant',
      '--id', 'porch-plug', '--kind', 'switch', '--source', 'sim', '--rate', '2', '--credentials', credentialsFile, '--queue-dir', join(workDir, 'queue')]);

  const roomId = await joinDeviceRoom(suite.alice.client, `@ha.porch-plug:${suite.gateway.server.serverName}`);
  t.like(stateContent(suite.alice.client, roomId, 'org.hearth.device'), {
    name: 'Switch porch-plug',
    model: 'SIM-PLUG',
    manufacturer: 'Hearth simulator',
    sensors: { state: { name: 'state', kind: 'boolean', device_class: 'outlet', settable: true } },
  });
  await waitForState(suite.alice.client, roomId, 'org.hearth.sensor', 'state', (c) => c.value === false);
  await waitForState(suite.alice.client, roomId, 'org.hearth.availability', '', (c) => c.online === true);

  const { event_id } = await suite.alice.client.sendTextMessage(roomId, '!set state on');
  const result = await waitForTimelineEvent(
    suite.alice.client,
    roomId,
    (e: sdk.MatrixEvent) => e.getType() === 'org.hearth.command.result' && (e.getContent()['m.relates_to'] as { event_id?: string } | undefined)?.event_id === event_id,
    'the command result',
  );
  t.like(result.getContent(), { sensor: 'state', value: true, status: 'ok' });
  t.regex(suite.agentLog(), /command \{"key":"state","value":"ON"\}/);
  await waitForState(suite.alice.client, roomId, 'org.hearth.sensor', 'state', (c) => c.value === true);
});
