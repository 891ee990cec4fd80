/**
 * Federation with a real Synapse (issue 11 "Proof", scenarios 1 and 2), for room versions 10, 11
 * and 12: a room created on one server, the invite crossing to the other, the join, 20 messages
 * each way in order, a topic and a power-level change, a reaction and a redaction from each side,
 * compared on both servers through the Client-Server API (`/messages`, `/state`, `/event`, `/relations`).
 */
import test from 'ava';
import { startHearth, type HearthServer } from '../integration/helpers/server.js';
import { registerUser } from '../integration/helpers/http.js';
import { exchange, setDiagnostics } from './room-exchange.js';
import { startSynapse, type SynapsePeer } from '../integration/helpers/synapse.js';

let hearth: HearthServer;
let synapse: SynapsePeer;

test.before(async () => {
  [hearth, synapse] = await Promise.all([startHearth({ federated: true }), startSynapse()]);
  setDiagnostics(() => `--- hearth ---\n${hearth.output().slice(-4000)}\n--- synapse ---\n${synapse.log().slice(-3000)}`);
});

test.after.always(async () => {
  await Promise.all([hearth?.stop(), synapse?.stop()]);
});

for (const version of ['10', '11', '12']) {
  test.serial(`scenario 1, v${version}: a Synapse room, a Hearth user invited and joined, 20 messages each way, topic and power levels`, async (t) => {
    const alice = await synapse.registerUser(`alice${version}`);
    const bob = await registerUser(hearth.baseUrl, `bob${version}`, 'secret-password-1');
    await exchange(
      t,
      { base: synapse.clientUrl, token: alice.accessToken, userId: alice.userId },
      { base: hearth.baseUrl, token: bob.accessToken, userId: bob.userId },
      version,
      'synapse-room',
    );
  });

  test.serial(`scenario 2, v${version}: a Hearth room, a Synapse user invited and joined, 20 messages each way, topic and power levels`, async (t) => {
    const carol = await registerUser(hearth.baseUrl, `carol${version}`, 'secret-password-1');
    const dave = await synapse.registerUser(`dave${version}`);
    await exchange(
      t,
      { base: hearth.baseUrl, token: carol.accessToken, userId: carol.userId },
      { base: synapse.clientUrl, token: dave.accessToken, userId: dave.userId },
      version,
      'hearth-room',
    );
  });
}
