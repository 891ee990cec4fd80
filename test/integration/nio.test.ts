/**
 * matrix-nio (Debian python3-matrix-nio, run by /usr/bin/python3: the python3 first on PATH has no
 * nio) against a real Hearth process. `nio/flow.py` does the chatting and prints a JSON report; this
 * test checks its exit code and asserts on the exact content the report says nio saw.
 */
import test from 'ava';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startHearth } from './helpers/server.js';

const PYTHON = '/usr/bin/python3';
const FLOW = fileURLToPath(new URL('./nio/flow.py', import.meta.url));
const MESSAGE_COUNT = 20;

interface FlowRun {
  exitCode: number;
  stdout: string;
  stderr: string;
}

function runFlow(baseUrl: string): Promise<FlowRun> {
  return new Promise((done) => {
    execFile(PYTHON, [FLOW, baseUrl, String(MESSAGE_COUNT)], { timeout: 60_000 }, (err, stdout, stderr) => {
      const exitCode = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      done({ exitCode, stdout, stderr });
    });
  });
}

test('matrix-nio registers, creates, invites, joins, sends, syncs, paginates, changes the topic and shares an image', async (t) => {
  const hearth = await startHearth({ t });
  const run = await runFlow(hearth.baseUrl);
  let report: Record<string, any>;
  try {
    report = JSON.parse(run.stdout);
  } catch {
    t.fail(`flow.py printed no JSON report (exit ${run.exitCode}):\n${run.stdout}\n${run.stderr}\n--- server ---\n${hearth.output()}`);
    return;
  }
  t.deepEqual(report.failures, [], `nio flow failures; stderr:\n${run.stderr}`);
  t.is(run.exitCode, 0);

  const expected = Array.from({ length: MESSAGE_COUNT }, (_, i) => `nio message ${String(i).padStart(2, '0')} from ${i % 2 === 0 ? 'alice' : 'bob'}`);
  t.deepEqual(report.sent, expected);
  t.deepEqual(report.received_by_bob, expected);
  t.deepEqual(report.received_by_alice, expected);
  t.deepEqual(report.paginated, expected);
  t.true(report.pagination_reached_create);
  t.is(report.name_seen_by_bob, 'nio room');
  t.deepEqual(report.topics_seen_by_bob, ['first topic', 'second topic', 'third topic']);
  t.deepEqual(report.media, { same_bytes: true, content_type: 'image/png', filename: 'garden.png' }, 'the image bob downloads is the one alice uploaded');
  // Rooms are of version 12 by default (default_room_version): the room id is the create event's hash.
  t.regex(report.room_id, /^![A-Za-z0-9_-]{43}$/);
  t.deepEqual(
    report.users.map((u: string) => u.replace(/_[0-9a-f]{6}:/, ':')),
    [`@nio_alice:${hearth.serverName}`, `@nio_bob:${hearth.serverName}`],
  );
});
