/**
 * `node --import tsx devices/simulators/main.ts [options]`: runs a fleet of simulated devices.
 *
 *   --broker URL           mqtt://host:port (default mqtt://127.0.0.1:1883)
 *   --convention NAME      homeassistant | zigbee2mqtt | homie | tasmota (default homeassistant)
 *   --count N              devices (default 10); every 10th is a switch, the rest climate sensors
 *   --rate HZ              samples per second per device (default 1)
 *   --prefix P             device ids are P0, P1, ... (default sim-)
 *   --credentials FILE     JSON object { "<device id>": { "username", "password" } }
 *   --queue-root DIR       offline queues (default ./.tmp/fleet)
 *
 * Prints the fleet's counters every 5 seconds on stderr.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { conventionByName } from '../agent/conventions/index.js';
import { Fleet, type MqttCredentials } from './fleet.js';

const { values: args } = parseArgs({
  options: {
    broker: { type: 'string', default: 'mqtt://127.0.0.1:1883' },
    convention: { type: 'string', default: 'homeassistant' },
    count: { type: 'string', default: '10' },
    rate: { type: 'string', default: '1' },
    prefix: { type: 'string', default: 'sim-' },
    credentials: { type: 'string' },
    'queue-root': { type: 'string', default: './.tmp/fleet' },
  },
});

const credentials = args.credentials
  ? (JSON.parse(readFileSync(args.credentials, 'utf8')) as Record<string, MqttCredentials>)
  : undefined;
const fleet = new Fleet({
  brokerUrl: args.broker,
  convention: conventionByName(args.convention),
  count: Number(args.count),
  rateHz: Number(args.rate),
  idPrefix: args.prefix,
  queueRoot: args['queue-root'],
  credentials: credentials ? (id) => credentials[id] : undefined,
});
await fleet.start();
fleet.startSampling();
const reporter = setInterval(() => console.error(JSON.stringify(fleet.stats())), 5000);

async function shutdown(): Promise<void> {
  clearInterval(reporter);
  await fleet.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
