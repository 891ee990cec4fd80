/**
 * Two Hearth gateways federating with each other (issue 11 "Proof": scenario 1 between two Hearth
 * instances): a room created on one, the invite crossing, the join, 20 messages each way in order,
 * a topic and a power-level change read identically on both; for room versions 10, 11 and 12.
 */
import test from 'ava';
import { startHearth, type HearthServer } from '../integration/helpers/server.js';
import { registerUser } from '../integration/helpers/http.js';
import { exchange, setDiagnostics } from './room-exchange.js';

let home: HearthServer;
let cabin: HearthServer;

test.before(async () => {
  [home, cabin] = await Promise.all([startHearth({ federated: true }), startHearth({ federated: true })]);
  setDiagnostics(() => `--- home ---\n${home.output().slice(-3000)}\n--- cabin ---\n${cabin.output().slice(-3000)}`);
});

test.after.always(async () => {
  await Promise.all([home?.stop(), cabin?.stop()]);
});

for (const version of ['10', '11', '12']) {
  test.serial(`Hearth <-> Hearth, v${version}: invite, join, 20 messages each way, topic and power levels`, async (t) => {
    const [ann, ben] = await Promise.all([
      registerUser(home.baseUrl, `ann${version}`, 'secret-password-1'),
      registerUser(cabin.baseUrl, `ben${version}`, 'secret-password-1'),
    ]);
    await exchange(
      t,
      { base: home.baseUrl, token: ann.accessToken, userId: ann.userId },
      { base: cabin.baseUrl, token: ben.accessToken, userId: ben.userId },
      version,
      'hearth-pair',
    );
  });
}
