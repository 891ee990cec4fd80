/**
 * Two Hearth gateways exchanging EDUs and end-to-end encryption keys (issue 11 "Proof": scenario 4
 * between two Hearth instances, and the key exchange of scenario 3 through the Client-Server API):
 * typing and a read receipt on one side show on the other's `/sync`; a new device's keys on one side
 * put its user in the other's `device_lists.changed`, and `/keys/query` and `/keys/claim` there
 * reach them through federation; a to-device message crosses. Steps in edu-exchange.ts.
 */
import test from 'ava';
import { startHearth, type HearthServer } from '../integration/helpers/server.js';
import { registerUser, type RegisteredUser } from '../integration/helpers/http.js';
import { call, setDiagnostics } from './room-exchange.js';
import { keysCross, receiptCrosses, sharedRoom, typingCrosses, type Person } from './edu-exchange.js';

let home: HearthServer;
let cabin: HearthServer;
let ann: Person;
let ben: Person;
let roomId: string;

function person(server: HearthServer, user: RegisteredUser): Person {
  return { base: server.baseUrl, token: user.accessToken, userId: user.userId, deviceId: user.deviceId };
}

test.before(async () => {
  [home, cabin] = await Promise.all([startHearth({ federated: true }), startHearth({ federated: true })]);
  setDiagnostics(() => `--- home ---\n${home.output().slice(-3000)}\n--- cabin ---\n${cabin.output().slice(-3000)}`);
  const [a, b] = await Promise.all([registerUser(home.baseUrl, 'ann', 'secret-password-1'), registerUser(cabin.baseUrl, 'ben', 'secret-password-1')]);
  ann = person(home, a);
  ben = person(cabin, b);
  roomId = await sharedRoom(ann, ben);
});

test.after.always(async () => {
  await Promise.all([home?.stop(), cabin?.stop()]);
});

test.serial('typing and a read receipt on one side show on the other\'s /sync, both ways', async (t) => {
  await typingCrosses(t, ann, ben, roomId);
  await typingCrosses(t, ben, ann, roomId);
  await receiptCrosses(t, ben, ann, roomId, 'r1');
  await receiptCrosses(t, ann, ben, roomId, 'r2');
});

test.serial('a new device\'s keys: device_lists.changed on the other side, /keys/query and /keys/claim through federation, to-device across, both ways', async (t) => {
  await keysCross(t, ben, ann, 'td1');
  await keysCross(t, ann, ben, 'td2');
});

test.serial('an unreachable server is listed in failures of /keys/query', async (t) => {
  const query = await call(ann, 'POST', '/_matrix/client/v3/keys/query', { device_keys: { '@nobody:127.0.0.1:1': [] }, timeout: 2000 });
  t.deepEqual(Object.keys(query.failures), ['127.0.0.1:1']);
  t.is(query.failures['127.0.0.1:1'].status, 503);
});
