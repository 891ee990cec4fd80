/**
 * The Client-Server ceiling: a bare node:http server that reads and parses the JSON body and
 * answers `{ "event_id": ... }`. No routing, auth, storage or signing: any Node HTTP API is slower.
 * Run as its own process (`node --import tsx scripts/lib/bare-http-server.ts PORT`) so it does not
 * share the benchmark client's event loop, just as Hearth does not.
 */
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
let counter = 0;
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    if (chunks.length > 0) JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const body = JSON.stringify({ event_id: `$bare${++counter}` });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
