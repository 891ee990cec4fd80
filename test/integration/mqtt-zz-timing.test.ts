import test from 'ava';
import { startMqttGateway } from './mqtt-helpers/gateway.js';
import { startPerson } from './mqtt-helpers/matrix.js';
import { silenceSdk } from './helpers/sdk.js';
silenceSdk();
test('timing', async (t) => {
  let t0 = Date.now();
  const gw = await startMqttGateway();
  console.log('start', Date.now() - t0); t0 = Date.now();
  await gw.addDevice('a');
  console.log('device', Date.now() - t0); t0 = Date.now();
  // no person
  console.log('person', Date.now() - t0); t0 = Date.now();

  await gw.stop();
  console.log('stop', Date.now() - t0); t0 = Date.now();
  t.pass();
});
