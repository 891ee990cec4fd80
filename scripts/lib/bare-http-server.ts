/**
 * The Client-Server baselines (run as their own process, `node --import tsx
 * scripts/lib/bare-http-server.ts PORT [--signed-floor]`, so they do not share the benchmark
 * client's event loop, just as Hearth does not):
 *
 * - bare: a node:http server that reads and parses the JSON body and answers `{ "event_id": ... }`.
 *   No routing, auth, storage or signing: the ceiling for any Node HTTP API.
 * - `--signed-floor`: the bare server plus only what every homeserver must do for an event it
 *   authors before it may acknowledge it, with Hearth's own protocol core: build the PDU, content
 *   hash, redact and encode canonically, sign with ed25519, reference hash (the event id), and
 *   append the signed event to a file with one write(2). No routing, auth, auth rules, indexes or
 *   LevelDB. No server that signs its events before answering can send faster than this one.
 */
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finalizePdu } from '../../src/core/event-builder.js';
import { getRoomVersionRules } from '../../src/core/room-versions.js';
import { generateSigningKey } from '../../src/core/signing.js';
import type { JsonObject } from '../../src/core/types.js';

const port = Number(process.argv[2]);
const signedFloor = process.argv.includes('--signed-floor');

const rules = getRoomVersionRules('11')!;
const key = generateSigningKey();
const serverName = `localhost:${port}`;
const roomId = `!floor:${serverName}`;
const sender = `@bench:${serverName}`;
// A room's first events, so auth_events look like a real message's (create, power levels, member).
const authEvents = ['$create', '$power_levels', '$member'].map((id) => `${id}${'0'.repeat(43 - id.length)}`);
const journalPath = join(tmpdir(), `hearth-signed-floor-${process.pid}.journal`);
const journal = signedFloor ? openSync(journalPath, 'a') : -1;
let depth = 3;
let prevEvent = authEvents[2]!;
let counter = 0;

/** The work a homeserver cannot skip for an event it authors (server-server "Adding hashes and signatures to outgoing events"). */
function authorEvent(type: string, content: JsonObject): string {
  const { pdu, eventId } = finalizePdu(
    { auth_events: authEvents, content, depth: ++depth, origin_server_ts: Date.now(), prev_events: [prevEvent], room_id: roomId, sender, type },
    { rules, serverName, key },
  );
  writeSync(journal, `${JSON.stringify(pdu)}\n`);
  prevEvent = eventId;
  return eventId;
}

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const content = chunks.length > 0 ? (JSON.parse(Buffer.concat(chunks).toString('utf8')) as JsonObject) : {};
    const eventId = signedFloor ? authorEvent(req.url?.split('/')[7] ?? 'm.room.message', content) : `$bare${++counter}`;
    const body = JSON.stringify({ event_id: eventId });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () =>
  server.close(() => {
    if (signedFloor) {
      closeSync(journal);
      rmSync(journalPath, { force: true });
    }
    process.exit(0);
  }),
);
