/**
 * EDUs and end-to-end encryption keys with a real Synapse (issue 11 "Proof": scenario 4, and the key
 * exchange of scenario 3 through the Client-Server API), both ways: typing and a read receipt on one
 * side show on the other's `/sync`; a device's keys uploaded on one side put its user in the other's
 * `device_lists.changed` (Synapse's `m.device_list_update` resynced through its `user/devices`, ours
 * fetched by Synapse), `/keys/query` and `/keys/claim` cross, and a to-device message arrives.
 */
import test from 'ava';
import { startHearth, type HearthServer } from '../integration/helpers/server.js';
import { registerUser } from '../integration/helpers/http.js';
import { startSynapse, type SynapsePeer } from '../integration/helpers/synapse.js';
import { setDiagnostics } from './room-exchange.js';
import { keysCross, receiptCrosses, sharedRoom, typingCrosses, type Person } from './edu-exchange.js';

let hearth: HearthServer;
let synapse: SynapsePeer;
let hugo: Person;
let sam: Person;
let roomId: string;

test.before(async () => {
  [hearth, synapse] = await Promise.all([startHearth({ federated: true }), startSynapse()]);
  setDiagnostics(() => `--- hearth ---\n${hearth.output().slice(-4000)}\n--- synapse ---\n${synapse.log().slice(-3000)}`);
  const [h, s] = await Promise.all([registerUser(hearth.baseUrl, 'hugo', 'secret-password-1'), synapse.registerUser('sam')]);
  hugo = { base: hearth.baseUrl, token: h.accessToken, userId: h.userId, deviceId: h.deviceId };
  sam = { base: synapse.clientUrl, token: s.accessToken, userId: s.userId, deviceId: s.deviceId };
  roomId = await sharedRoom(sam, hugo);
});

test.after.always(async () => {
  await Promise.all([hearth?.stop(), synapse?.stop()]);
});

test.serial('scenario 4: typing and a read receipt on one side show on the other\'s /sync, both ways', async (t) => {
  await typingCrosses(t, hugo, sam, roomId);
  await typingCrosses(t, sam, hugo, roomId);
  await receiptCrosses(t, hugo, sam, roomId, 'r1');
  await receiptCrosses(t, sam, hugo, roomId, 'r2');
});

test.serial('device keys: device_lists.changed, /keys/query, /keys/claim and to-device across, both ways', async (t) => {
  await keysCross(t, sam, hugo, 'td1');
  await keysCross(t, hugo, sam, 'td2');
});
