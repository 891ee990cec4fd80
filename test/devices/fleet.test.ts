import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { CONVENTIONS } from '../../devices/agent/conventions/index.js';
import { Fleet } from '../../devices/simulators/fleet.js';
import { freePort, KillableAedes, waitFor } from './brokers.js';

for (const convention of Object.values(CONVENTIONS)) {
  test(`a ${convention.name} fleet samples, has every reading acknowledged, and obeys commands`, async (t) => {
    const port = await freePort();
    const broker = new KillableAedes(port);
    await broker.start();
    const fleet = new Fleet({
      brokerUrl: `mqtt://127.0.0.1:${port}`,
      convention,
      count: 10,
      rateHz: 10,
      queueRoot: mkdtempSync(join(tmpdir(), 'hearth-fleet-')),
    });
    await fleet.start(5000);
    t.is(fleet.stats().connected, 10);
    // Counts, not timings: a loaded CI machine samples late, but never loses an acknowledged reading.
    fleet.startSampling();
    await waitFor(() => fleet.stats().recorded >= 50, 20_000, 'at least 50 readings sampled');
    fleet.stopSampling();
    await waitFor(() => fleet.stats().acknowledged === fleet.stats().recorded, 10_000, 'all acknowledged');
    const { recorded, acknowledged } = fleet.stats();
    t.true(recorded >= 50);
    t.is(acknowledged, recorded);

    // sim-9 is the switch: command it in its own convention and watch the reported state.
    const plug = fleet.devices[9]!.description;
    const [commandTopic] = convention.commandTopics(plug);
    const controller = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`);
    const payload = convention.name === 'zigbee2mqtt' ? '{"state":"ON"}' : convention.name === 'homie' ? 'true' : 'ON';
    await controller.publishAsync(commandTopic!, payload, { qos: 1 });
    await waitFor(() => fleet.stats().commands === 1, 5000, 'command applied');
    t.deepEqual(fleet.devices[9]!.sample(), { state: 'ON' });
    await controller.endAsync();
    await fleet.stop();
    await broker.kill();
  });
}
