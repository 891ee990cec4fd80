/**
 * The MQTT ceiling: aedes with its defaults (in-memory persistence), no authentication, no mapping.
 * Run as its own process: `node --import tsx scripts/lib/bare-aedes.ts PORT`.
 */
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const port = Number(process.argv[2]);
const broker = await Aedes.createBroker({ drainTimeout: 10_000 });
const server = createServer(broker.handle);
server.listen(port, '127.0.0.1', () => console.log('listening'));
process.on('SIGTERM', () => server.close(() => broker.close(() => process.exit(0))));
