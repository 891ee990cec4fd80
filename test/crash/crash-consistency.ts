/**
 * Crash consistency against the real gateway process (issue 10 "The harness"): a mixed load (client
 * messages and state changes over HTTP, QoS 1 readings from a Tasmota device over mqtt.js) is cut by
 * SIGKILL at a random moment, the gateway is started again on the same data directory, and then:
 *  - every event acknowledged with 200 and an event_id is there, with its content (this round's all,
 *    a sample of the earlier ones);
 *  - every reading acknowledged with a PUBACK is in the sensor's history;
 *  - room state equals the replay of the acknowledged state changes (for each key: the last
 *    acknowledged content, or the one change that was in flight when the process died);
 *  - sync tokens handed out before the kill (this round's and the first round's) still work, and an
 *    incremental sync from this round's token carries the events acknowledged after it.
 * Used by the quick test (a few kills) and by `make proof` (scripts/proof/crash.ts, 200 kills).
 */
import mqtt from 'mqtt';
import { FAST_BRIDGE_YAML, startMqttGateway, type MqttGateway } from '../integration/mqtt-helpers/gateway.js';
import { sleep } from '../integration/helpers/server.js';
import { Prng } from '../fuzz/prng.js';

export interface CrashRunOptions {
  kills: number;
  seed: number;
  /** The load runs a random time in [minLoadMs, maxLoadMs] before the SIGKILL. */
  minLoadMs?: number;
  maxLoadMs?: number;
  log?: (line: string) => void;
}

export interface CrashReport {
  kills: number;
  ackedEvents: number;
  ackedStateChanges: number;
  ackedReadings: number;
  syncTokensChecked: number;
  /** Milliseconds from the restart to `/versions` answering, per kill. */
  restartMs: number[];
  /** Everything that did not hold, with the round it happened in. */
  failures: string[];
  /** The gateway's output tail when something failed. */
  output?: string;
}

const STATE_TYPE = 'org.example.crash';
const STATE_KEYS = ['a', 'b', 'c', 'd', 'e'];
const DEVICE = 'crashdev';
const PASSWORD = 'crash test password';

interface AckedEvent {
  eventId: string;
  body: string;
}

interface Http {
  (method: string, path: string, json?: unknown): Promise<{ status: number; body: any; text: string }>;
}

export async function runCrashConsistency(opts: CrashRunOptions): Promise<CrashReport> {
  const rng = new Prng(opts.seed);
  const log = opts.log ?? (() => undefined);
  const minLoad = opts.minLoadMs ?? 500;
  const maxLoad = opts.maxLoadMs ?? 3000;
  const report: CrashReport = { kills: 0, ackedEvents: 0, ackedStateChanges: 0, ackedReadings: 0, syncTokensChecked: 0, restartMs: [], failures: [] };
  // Rate limits off: the load is what a busy home does in a burst, and a 429 acknowledges nothing.
  const gateway = await startMqttGateway({ configYaml: FAST_BRIDGE_YAML, env: { HEARTH_RATE_LIMITS: 'off' } });
  const server = gateway.server;
  try {
    await gateway.addUser('crash', PASSWORD, { admin: true });
    const device = await gateway.addDevice(DEVICE);
    const token = await login(server.baseUrl);
    const http: Http = async (method, path, json) => {
      const res = await fetch(`${server.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: json === undefined ? undefined : JSON.stringify(json),
        signal: AbortSignal.timeout(60_000),
      });
      const text = await res.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      return { status: res.status, body, text };
    };
    const created = await http('POST', '/_matrix/client/v3/createRoom', { preset: 'private_chat', name: 'crash room' });
    if (created.status !== 200) throw new Error(`createRoom: ${created.status} ${created.text}`);
    const roomId = created.body.room_id as string;
    const room = encodeURIComponent(roomId);

    const allEvents: AckedEvent[] = [];
    /** The replay: the last acknowledged content per state key. */
    const replay = new Map<string, unknown>();
    let firstSyncToken: string | undefined;
    let readingCounter = 0;
    let deviceRoom: string | undefined;

    for (let round = 0; round < opts.kills; round++) {
      const fail = (what: string) => report.failures.push(`round ${round}: ${what}`);
      // A sync token before this round's load: after the kill it must still work.
      const before = await http('GET', `/_matrix/client/v3/sync?timeout=0&filter=${encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 1 } } }))}`);
      if (before.status !== 200) fail(`/sync before the load: ${before.status} ${before.text.slice(0, 200)}`);
      const sinceToken = before.body?.next_batch as string;
      firstSyncToken ??= sinceToken;

      let killed = false;
      const roundEvents: AckedEvent[] = [];
      let pendingState: { key: string; content: unknown } | undefined;
      const roundReadings: number[] = [];
      const roundStart = Date.now();

      // 1. Messages: two senders.
      const sender = async (lane: number) => {
        for (let i = 0; !killed; i++) {
          const body = `round ${round} lane ${lane} message ${i}`;
          try {
            const res = await http('PUT', `/_matrix/client/v3/rooms/${room}/send/m.room.message/r${round}l${lane}m${i}`, { msgtype: 'm.text', body });
            if (res.status === 200 && typeof res.body?.event_id === 'string') roundEvents.push({ eventId: res.body.event_id, body });
            else if (!killed) fail(`send answered ${res.status} ${res.text.slice(0, 200)}`);
          } catch {
            // The connection died with the process: not acknowledged.
          }
        }
      };
      // 2. State changes, one at a time, so the replay knows what was in flight.
      const stateWriter = async () => {
        for (let i = 0; !killed; i++) {
          const key = STATE_KEYS[i % STATE_KEYS.length]!;
          const content = { round, n: i };
          pendingState = { key, content };
          try {
            const res = await http('PUT', `/_matrix/client/v3/rooms/${room}/state/${STATE_TYPE}/${key}`, content);
            if (res.status === 200) {
              replay.set(key, content);
              report.ackedStateChanges++;
              pendingState = undefined;
            } else if (!killed) fail(`state answered ${res.status} ${res.text.slice(0, 200)}`);
          } catch {
            // In flight at the kill: it may or may not have been applied.
            return;
          }
        }
      };
      // 3. QoS 1 readings from the device through mqtt.js: acknowledged = PUBACK received.
      let markReady: () => void = () => undefined;
      const readingsReady = new Promise<void>((resolve) => (markReady = resolve));
      const readings = async () => {
        let client: mqtt.MqttClient;
        try {
          client = await mqtt.connectAsync(`mqtt://127.0.0.1:${server.mqttPort}`, { username: device.username, password: device.password, clientId: `${DEVICE}-r${round}`, reconnectPeriod: 0, connectTimeout: 10_000 });
        } catch {
          markReady();
          return;
        }
        client.on('error', () => undefined);
        // mqtt.js keeps a publish queued while disconnected: the close settles it as not acknowledged.
        const closed = new Promise<never>((_, reject) => client.once('close', () => reject(new Error('connection closed'))));
        closed.catch(() => undefined);
        try {
          await Promise.race([client.publishAsync(`tele/${DEVICE}/LWT`, 'Online', { qos: 1, retain: true }), closed]);
          // 16 in flight, as the device agent keeps them: a PUBACK waits for the telemetry group
          // commit (up to telemetry.flush_interval, 1 s), so one at a time would be 1 reading/s.
          const lane = async () => {
            while (!killed) {
              const value = ++readingCounter;
              await Promise.race([client.publishAsync(`tele/${DEVICE}/SENSOR`, JSON.stringify({ ENERGY: { Voltage: value } }), { qos: 1 }), closed]);
              roundReadings.push(value);
              markReady();
            }
          };
          await Promise.all(Array.from({ length: 16 }, lane));
        } catch {
          // Connection closed by the kill.
        } finally {
          markReady();
          client.end(true);
        }
      };

      const load = Promise.all([sender(0), sender(1), stateWriter(), readings()]);
      // The kill point is drawn from when every part of the load runs, here from the first reading's
      // PUBACK: the device's CONNECT costs a password hash after a restart, its first reading may
      // create its room, and a PUBACK waits for the telemetry group commit (up to 1 s).
      await readingsReady;
      await sleep(rng.range(minLoad, maxLoad));
      killed = true;
      await server.kill('SIGKILL');
      await load;
      report.kills++;
      const restartedAt = Date.now();
      await server.restart();
      report.restartMs.push(Date.now() - restartedAt);
      allEvents.push(...roundEvents);
      report.ackedEvents += roundEvents.length;
      report.ackedReadings += roundReadings.length;

      // Every acknowledged event of this round, and a sample of the earlier ones.
      const earlier = allEvents.slice(0, allEvents.length - roundEvents.length);
      const sample = Array.from({ length: Math.min(20, earlier.length) }, () => earlier[rng.int(earlier.length)]!);
      for (const ev of [...roundEvents, ...sample]) {
        const res = await http('GET', `/_matrix/client/v3/rooms/${room}/event/${encodeURIComponent(ev.eventId)}`);
        if (res.status !== 200 || res.body?.content?.body !== ev.body) fail(`acknowledged event ${ev.eventId} ("${ev.body}"): ${res.status} ${res.text.slice(0, 200)}`);
      }

      // Room state equals the replay (the in-flight change may have landed).
      const state = await http('GET', `/_matrix/client/v3/rooms/${room}/state`);
      if (state.status !== 200) fail(`/state: ${state.status}`);
      else {
        const actual = new Map<string, unknown>((state.body as Array<{ type: string; state_key: string; content: unknown }>).filter((e) => e.type === STATE_TYPE).map((e) => [e.state_key, e.content]));
        for (const key of STATE_KEYS) {
          const allowed = [replay.get(key), ...(pendingState?.key === key ? [pendingState.content] : [])].map((c) => JSON.stringify(c));
          const got = JSON.stringify(actual.get(key));
          if (!allowed.includes(got)) fail(`state ${STATE_TYPE}/${key} is ${got}, the replay says ${allowed.join(' or ')}`);
          // What landed in flight is now the replay's.
          if (pendingState?.key === key && got === JSON.stringify(pendingState.content)) replay.set(key, pendingState.content);
        }
      }

      // Sync tokens from before the kill.
      for (const since of new Set([sinceToken, firstSyncToken])) {
        const res = await http('GET', `/_matrix/client/v3/sync?timeout=0&since=${encodeURIComponent(since)}&filter=${encodeURIComponent(JSON.stringify({ room: { rooms: [roomId], timeline: { limit: 1000 } } }))}`);
        report.syncTokensChecked++;
        if (res.status !== 200) {
          fail(`/sync since ${since}: ${res.status} ${res.text.slice(0, 200)}`);
          continue;
        }
        const timeline = res.body?.rooms?.join?.[roomId]?.timeline;
        if (since === sinceToken && timeline && !timeline.limited) {
          const seen = new Set((timeline.events as Array<{ event_id: string }>).map((e) => e.event_id));
          const missing = roundEvents.filter((e) => !seen.has(e.eventId));
          if (missing.length) fail(`/sync since the round's token lacks ${missing.length} acknowledged events (${missing[0]!.eventId}...)`);
        }
      }

      // Every acknowledged reading is in the sensor's history.
      deviceRoom ??= await findDeviceRoom(http);
      if (!deviceRoom) {
        if (roundReadings.length) fail('the device room was not found');
      } else if (roundReadings.length) {
        const res = await http('GET', `/_matrix/client/v1/org.hearth/rooms/${encodeURIComponent(deviceRoom)}/telemetry/energy.voltage?resolution=raw&from=${roundStart - 60_000}&to=${Date.now() + 60_000}`);
        if (res.status !== 200) fail(`telemetry: ${res.status} ${res.text.slice(0, 200)}`);
        else {
          const values = new Set((res.body.points as Array<{ value: unknown }>).map((p) => Number(p.value)));
          const missing = roundReadings.filter((v) => !values.has(v));
          if (missing.length) fail(`${missing.length} of ${roundReadings.length} acknowledged readings are not in the history (${missing.slice(0, 5).join(', ')}...)`);
        }
      }
      log(`kill ${round + 1}/${opts.kills}: ${roundEvents.length} events, ${roundReadings.length} readings acknowledged; restart ${report.restartMs.at(-1)} ms; failures so far ${report.failures.length}`);
    }
    if (report.failures.length) report.output = server.output();
    return report;
  } finally {
    await gateway.stop();
  }
}

async function login(baseUrl: string): Promise<string> {
  const res = await fetch(`${baseUrl}/_matrix/client/v3/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'm.login.password', identifier: { type: 'm.id.user', user: 'crash' }, password: PASSWORD }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`login: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/** The device's room: the admin is invited by the bridge; joined here, found by its org.hearth.device state. */
async function findDeviceRoom(http: Http): Promise<string | undefined> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const sync = await http('GET', '/_matrix/client/v3/sync?timeout=0&filter=' + encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 0 } } })));
    for (const roomId of Object.keys(sync.body?.rooms?.invite ?? {})) await http('POST', `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, {});
    const joined = await http('GET', '/_matrix/client/v3/joined_rooms');
    for (const roomId of (joined.body?.joined_rooms ?? []) as string[]) {
      const device = await http('GET', `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/org.hearth.device/`);
      if (device.status === 200 && device.body?.name === DEVICE) return roomId;
    }
    await sleep(250);
  }
  return undefined;
}

export type { MqttGateway };
