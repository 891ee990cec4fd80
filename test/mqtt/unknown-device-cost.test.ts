/**
 * An MQTT CONNECT naming an unknown device costs the same password hash as a wrong password for a
 * real one, so the answer's timing does not tell which device names exist (issue 10, finding 3).
 * Counted by the hashing queue, not timed.
 */
import test from 'ava';
import { passwordHashingStats } from '../../src/accounts/password.js';
import { openDb, openRegistry, tempDir } from './broker-fixtures.js';

test('unknown and known device names cost one hash each', async (t) => {
  const db = await openDb(tempDir());
  t.teardown(() => db.close());
  const registry = await openRegistry(db);
  await registry.addDevice('porch-light');
  const hashes = async (name: string, password: string) => {
    const before = passwordHashingStats().completed;
    const identity = await registry.verify(name, password);
    return { identity, hashes: passwordHashingStats().completed - before };
  };
  t.deepEqual(await hashes('porch-light', 'wrong'), { identity: undefined, hashes: 1 });
  t.deepEqual(await hashes('no-such-device', 'wrong'), { identity: undefined, hashes: 1 });
});
