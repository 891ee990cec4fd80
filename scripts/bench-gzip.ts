/**
 * `node --import tsx scripts/bench-gzip.ts [--messages N] [--rounds N]`: what gzip saves on a
 * Hearth <-> Hearth backfill (issue 12 "Thin uplinks", docs/performance.md "Federation answers
 * compressed"). Two gateways as real processes; `cabin` joins a room of `home`, `home` sends N
 * messages (default 1,000); then the whole history is walked back with `/backfill` pages of 100,
 * as a catching-up peer does, signed with cabin's key, once asking for gzip and once not.
 *
 * Reported: the answers' bytes (HTTP headers and body, as received), home's CPU time for the walk
 * (from /proc/<pid>/stat, over `--rounds` walks), and, in this process, the CPU and bytes of each
 * zlib level on the same answers (the level choice of `src/federation/transport/compression.ts`).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { gunzipSync, gzipSync } from 'node:zlib';
import { registerUser, request, sendText } from '../test/integration/helpers/http.js';
import { startHearth, type HearthServer } from '../test/integration/helpers/server.js';
import { signedFederationGet, type RawAnswer } from '../test/integration/helpers/signed-federation-get.js';

const { values: args } = parseArgs({ options: { messages: { type: 'string', default: '1000' }, rounds: { type: 'string', default: '5' } } });
const MESSAGES = Number(args.messages);
const ROUNDS = Number(args.rounds);
const PAGE = 100;

type Answer = RawAnswer;

/** CPU seconds (user + system) of a process so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat, in clock ticks (100 a second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Walks the room back from `latest` page by page, as a catching-up peer does; the answers as
 * received. The history is one chain (one sender): a page holds the events asked for and those
 * before them, newest first, so the next page starts at its oldest event's prev_events.
 */
async function walkBack(home: HearthServer, cabin: HearthServer, roomId: string, latest: string, headers: Record<string, string>): Promise<Answer[]> {
  const answers: Answer[] = [];
  let from = [latest];
  for (;;) {
    const query = `${from.map((v) => `v=${encodeURIComponent(v)}`).join('&')}&limit=${PAGE}`;
    const answer = await signedFederationGet(cabin, home, `/_matrix/federation/v1/backfill/${encodeURIComponent(roomId)}?${query}`, headers);
    if (answer.status !== 200) throw new Error(`backfill: ${answer.status} ${answer.raw.toString('latin1').slice(0, 200)}`);
    answers.push(answer);
    const text = answer.headers['content-encoding'] === 'gzip' ? gunzipSync(answer.raw).toString('utf8') : answer.raw.toString('utf8');
    const pdus = (JSON.parse(text) as { pdus: { prev_events: string[] }[] }).pdus;
    const oldest = pdus[pdus.length - 1];
    if (pdus.length < PAGE || !oldest || oldest.prev_events.length === 0) return answers;
    from = oldest.prev_events;
  }
}

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

const [home, cabin] = await Promise.all([startHearth({ federated: true }), startHearth({ federated: true })]);
try {
  const [carol, ann] = await Promise.all([registerUser(home.baseUrl, 'carol', 'carol-password-1'), registerUser(cabin.baseUrl, 'ann', 'ann-password-1')]);
  const created = await request(home.baseUrl, 'POST', '/_matrix/client/v3/createRoom', { token: carol.accessToken, json: { preset: 'public_chat', room_version: '11' } });
  const roomId = created.body.room_id as string;
  const joined = await request(cabin.baseUrl, 'POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?server_name=${encodeURIComponent(home.serverName)}`, { token: ann.accessToken, json: {} });
  if (joined.status !== 200) throw new Error(`join: ${joined.status} ${joined.text}`);
  let latest = '';
  for (let i = 0; i < MESSAGES; i++) latest = await sendText(home.baseUrl, carol.accessToken, roomId, `b${i}`, `Hall thermostat: ${(18 + (i % 50) / 10).toFixed(1)} °C, boiler ${i % 3 === 0 ? 'on' : 'off'} (reading ${i})`);

  const pid = home.pid()!;
  const results: Record<'identity' | 'gzip', { answers: Answer[]; cpu: number }> = { identity: { answers: [], cpu: 0 }, gzip: { answers: [], cpu: 0 } };
  for (const [mode, headers] of [['identity', {}], ['gzip', { 'Accept-Encoding': 'gzip' }]] as const) {
    // One warm-up walk (caches, JIT), then the measured rounds.
    await walkBack(home, cabin, roomId, latest, headers);
    const before = cpuSeconds(pid);
    for (let r = 0; r < ROUNDS; r++) results[mode].answers = await walkBack(home, cabin, roomId, latest, headers);
    results[mode].cpu = (cpuSeconds(pid) - before) / ROUNDS;
  }
  const total = (answers: Answer[]) => answers.reduce((sum, a) => sum + a.headerBytes + a.raw.length, 0);
  const identityBytes = total(results.identity.answers);
  const gzipBytes = total(results.gzip.answers);
  console.log(`${MESSAGES} messages walked back in ${results.identity.answers.length} /backfill pages of ${PAGE}`);
  console.log(`identity: ${kib(identityBytes)} (headers + bodies), home CPU ${(results.identity.cpu * 1000).toFixed(0)} ms a walk`);
  console.log(`gzip:     ${kib(gzipBytes)} (${((gzipBytes / identityBytes) * 100).toFixed(1)} %), home CPU ${(results.gzip.cpu * 1000).toFixed(0)} ms a walk`);

  // The zlib levels on the same answers, in this process: CPU per MiB of JSON and the bytes left.
  const bodies = results.identity.answers.map((a) => a.raw);
  const jsonBytes = bodies.reduce((s, b) => s + b.length, 0);
  for (const level of [1, 2, 4, 6, 9]) {
    const start = process.cpuUsage();
    let out = 0;
    const repeats = 50;
    for (let r = 0; r < repeats; r++) for (const body of bodies) out += gzipSync(body, { level }).length;
    const used = process.cpuUsage(start);
    const ms = (used.user + used.system) / 1000 / repeats;
    console.log(`level ${level}: ${kib(out / repeats)} of ${kib(jsonBytes)} (${((out / repeats / jsonBytes) * 100).toFixed(1)} %), ${ms.toFixed(1)} ms CPU, ${(ms / (jsonBytes / 1048576)).toFixed(1)} ms/MiB`);
  }
} finally {
  await Promise.all([home.stop(), cabin.stop()]);
}
