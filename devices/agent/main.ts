/**
 * `node --import tsx devices/agent/main.ts --config agent.yaml`: runs the device agent for real
 * sensors as its config file describes (devices/agent.example.yaml); nothing else may be given.
 * `... --config agent.yaml --public-key`: prints the agent's signing public key (generating the key
 * on first use) for `hearth device add NAME --public-key KEY`, and exits.
 *
 * `node --import tsx devices/agent/main.ts [options]`: runs one simulated or stdin-fed agent.
 *
 *   --broker URL             mqtt://host:port (default mqtt://127.0.0.1:1883)
 *   --convention NAME        homeassistant | zigbee2mqtt | homie | tasmota (default homeassistant)
 *   --id ID                  device id, also the MQTT client id (default sensor-1)
 *   --kind climate|switch    the simulated device when --source sim (default climate)
 *   --source sim|stdin       simulated readings, or one reading per stdin line (default sim)
 *   --rate HZ                simulated samples per second (default 1)
 *   --credentials FILE       JSON from `hearth device add NAME --json` (username, password)
 *   --username U --password P
 *   --queue-dir DIR          offline queue (default ./.tmp/agent-<id>)
 *   --max-queued N           readings kept offline before the oldest are evicted (default 50000)
 *   --announce-bridge        (zigbee2mqtt) also publish the bridge's device list with this device
 *
 * stdin lines: `temperature=21.5 humidity=40` or `{"temperature":21.5,"ts":"2025-01-01T00:00:00Z"}`.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { DeviceAgent } from './agent.js';
import { loadAgentConfig, type AgentConfig } from './config.js';
import { startConfiguredAgent } from './configured-agent.js';
import { bridgeDevicesMessage, conventionByName } from './conventions/index.js';
import { parseReadingLine } from './stdin-source.js';
import { publicKeyOf } from './signing.js';
import { createSimulatedDevice, type SimulatedKind } from '../simulators/models.js';

const { values: args } = parseArgs({
  options: {
    config: { type: 'string' },
    broker: { type: 'string', default: 'mqtt://127.0.0.1:1883' },
    convention: { type: 'string', default: 'homeassistant' },
    id: { type: 'string', default: 'sensor-1' },
    kind: { type: 'string', default: 'climate' },
    source: { type: 'string', default: 'sim' },
    rate: { type: 'string', default: '1' },
    credentials: { type: 'string' },
    username: { type: 'string' },
    password: { type: 'string' },
    'queue-dir': { type: 'string' },
    'max-queued': { type: 'string', default: '50000' },
    'announce-bridge': { type: 'boolean', default: false },
    'public-key': { type: 'boolean', default: false },
  },
});

/**
 * sysexits.h EX_CONFIG: agent.service does not restart on it, as a retry cannot fix the file.
 * (Declared before the code below runs: a `const` used before its line throws a ReferenceError.)
 */
const EXIT_CONFIG_ERROR = 78;

if (args.config !== undefined) {
  const extra = process.argv.slice(2).filter((a) => a !== '--config' && a !== args.config && a !== '--public-key');
  if (extra.length > 0) throw new Error('--config takes no other options (but --public-key): everything is in the file');
  if (args['public-key']) printPublicKey(args.config);
  // Not a top-level await: the single executable (devices/build-agent.sh) runs CommonJS, which has none.
  else void runFromConfig(args.config);
} else {
  runFromOptions();
}

/** The agent's configuration file, or exit with its error (a configuration error is not retried). */
function loadConfigOrExit(path: string): AgentConfig {
  try {
    return loadAgentConfig(path);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(EXIT_CONFIG_ERROR);
  }
}

function printPublicKey(path: string): void {
  const config = loadConfigOrExit(path);
  if (!config.signing) {
    console.error(`${path}: signing is off`);
    process.exit(EXIT_CONFIG_ERROR);
  }
  console.log(publicKeyOf(config.keyFile));
}

async function runFromConfig(path: string): Promise<void> {
  const config = loadConfigOrExit(path);
  // A sensor that cannot be opened (1-Wire module not loaded yet at boot) exits 1: worth a retry.
  const configured = await startConfiguredAgent(config).catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
  const shutdown = async () => {
    await configured.stop();
    process.exit(0);
  };
  // Fed by stdin alone: the end of input ends the agent once delivered (or queued), as below.
  if (configured.stdinEnded && configured.sampler.sensorCount === 0) {
    void configured.stdinEnded.then(() => configured.agent.delivered(10_000)).then(shutdown);
  }
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}

function runFromOptions(): void {
  if (args.kind !== 'climate' && args.kind !== 'switch') throw new Error('--kind must be climate or switch');
  if (args.source !== 'sim' && args.source !== 'stdin') throw new Error('--source must be sim or stdin');
  const rateHz = Number(args.rate);
  if (!(rateHz > 0)) throw new Error('--rate must be a positive number');

  const credentials = args.credentials
    ? (JSON.parse(readFileSync(args.credentials, 'utf8')) as { username: string; password: string })
    : { username: args.username, password: args.password };
  const convention = conventionByName(args.convention);
  const device = createSimulatedDevice(args.kind as SimulatedKind, args.id, 1);
  const agent = new DeviceAgent({
    brokerUrl: args.broker,
    username: credentials.username,
    password: credentials.password,
    device: device.description,
    convention,
    queueDir: args['queue-dir'] ?? `./.tmp/agent-${args.id}`,
    maxQueuedReadings: Number(args['max-queued']),
    extraAnnouncements: args['announce-bridge'] ? [bridgeDevicesMessage([device.description])] : [],
    onCommand: (command) => device.applyCommand(command),
  });
  agent.on('online', () => console.error(`[${args.id}] online (${JSON.stringify(agent.stats())})`));
  agent.on('offline', () => console.error(`[${args.id}] offline, buffering`));
  agent.on('warning', (err: Error) => console.error(`[${args.id}] ${err.message}`));
  agent.on('command', (command) => console.error(`[${args.id}] command ${JSON.stringify(command)}`));
  agent.start();

  let sampler: NodeJS.Timeout | undefined;
  if (args.source === 'sim') {
    sampler = setInterval(() => agent.record(device.sample()), 1000 / rateHz);
  } else {
    const lines = createInterface({ input: process.stdin });
    // End of input: give the agent a while to deliver, then exit; what is left stays queued on disk.
    lines.on('close', () => void agent.delivered(10_000).then(shutdown));
    lines.on('line', (line) => {
      try {
        const parsed = parseReadingLine(line);
        if (parsed) agent.record(parsed.values, parsed.ts);
      } catch (err) {
        console.error(`[${args.id}] skipped line: ${(err as Error).message}`);
      }
    });
  }

  async function shutdown(): Promise<void> {
    clearInterval(sampler);
    await agent.stop();
    process.exit(0);
  }
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
}
