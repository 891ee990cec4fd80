/**
 * An agent built from a config file (config.ts): the device description from its sensors, each
 * polled sensor opened with its driver and sampled at its interval, and stdin lines for the sensors
 * whose driver is `stdin`. Opening a driver fails at start-up (a missing zone or 1-Wire sensor stops
 * the agent with the reason, and systemd shows it), reading one later only skips that value.
 */
import type { Readable } from 'node:stream';
import { createInterface } from 'node:readline';
import { DeviceAgent } from './agent.js';
import { sensorSpecsOf, type AgentConfig, type SensorConfig } from './config.js';
import { conventionByName } from './conventions/index.js';
import type { DeviceDescription, SensorValues } from './device.js';
import { commandSource } from './sources/command.js';
import { openDs18b20 } from './sources/ds18b20.js';
import { Sampler, type SampledSensor } from './sources/sampler.js';
import type { SensorSource } from './sources/source.js';
import { openThermalZone } from './sources/thermal-zone.js';
import { ReadingSigner } from './signing.js';
import { parseReadingLine } from './stdin-source.js';

export interface ConfiguredAgent {
  readonly agent: DeviceAgent;
  readonly sampler: Sampler;
  readonly device: DeviceDescription;
  /** Resolves when stdin (if any sensor reads it) has ended. */
  readonly stdinEnded: Promise<void> | undefined;
  stop(): Promise<void>;
}

export interface ConfiguredAgentOptions {
  /** Where `stdin` sensors read lines from. Default process.stdin. */
  stdin?: Readable;
  /** Logs a line (default stderr). */
  log?: (line: string) => void;
}

export async function openSource(sensor: Exclude<SensorConfig, { driver: 'stdin' }>): Promise<SensorSource> {
  switch (sensor.driver) {
    case 'thermal_zone':
      return openThermalZone({ root: sensor.root, zone: sensor.zone });
    case 'ds18b20':
      return openDs18b20({ root: sensor.root, device: sensor.device });
    case 'command':
      return commandSource({ command: sensor.command, timeoutMs: sensor.timeoutMs, pattern: sensor.pattern, shell: sensor.shell });
  }
}

export async function startConfiguredAgent(config: AgentConfig, options: ConfiguredAgentOptions = {}): Promise<ConfiguredAgent> {
  const log = options.log ?? ((line: string) => console.error(line));
  const id = config.device.id;
  const device: DeviceDescription = { ...config.device, sensors: sensorSpecsOf(config) };

  const polled: SampledSensor[] = [];
  for (const sensor of config.sensors) {
    if (sensor.driver === 'stdin') continue;
    try {
      const source = await openSource(sensor);
      polled.push({ key: sensor.key, source, intervalMs: sensor.intervalMs });
      log(`[${id}] ${sensor.key}: ${sensor.driver} ${source.description} every ${sensor.intervalMs / 1000} s`);
    } catch (err) {
      throw new Error(`sensor "${sensor.key}" (${sensor.driver}): ${(err as Error).message}`);
    }
  }

  let signer: ReadingSigner | undefined;
  if (config.signing) {
    signer = ReadingSigner.open(config.keyFile, config.username!);
    log(`[${id}] signing with ed25519 key ${signer.publicKey} (${config.keyFile}; the gateway: hearth device key ${config.username} --public-key ${signer.publicKey})`);
  }

  const agent = new DeviceAgent({
    brokerUrl: config.broker,
    username: config.username,
    password: config.password,
    device,
    convention: conventionByName(config.convention),
    queueDir: config.queueDir,
    maxQueuedReadings: config.maxQueued,
    ...(signer ? { signer } : {}),
  });
  agent.on('online', () => log(`[${id}] online (${JSON.stringify(agent.stats())})`));
  agent.on('offline', () => log(`[${id}] offline, buffering`));
  agent.on('warning', (err: Error) => log(`[${id}] ${err.message}`));

  const sampler = new Sampler(polled, (values) => agent.record(values));
  // Counted in sampler.stats(); logged so a failing sensor shows in the journal.
  sampler.on('bad-read', (key: string, err: Error) => log(`[${id}] ${key}: bad read skipped: ${err.message} (${sampler.stats()[key]!.badReads} so far)`));
  sampler.on('read-error', (key: string, err: Error) => log(`[${id}] ${key}: read failed: ${err.message}`));

  agent.start();
  sampler.start();

  const stdinKeys = new Set(config.sensors.filter((s) => s.driver === 'stdin').map((s) => s.key));
  let stdinEnded: Promise<void> | undefined;
  if (stdinKeys.size > 0) {
    const lines = createInterface({ input: options.stdin ?? process.stdin });
    stdinEnded = new Promise((resolve) => lines.once('close', resolve));
    lines.on('line', (line) => {
      try {
        const parsed = parseReadingLine(line);
        if (!parsed) return;
        const values = declaredValues(parsed.values, stdinKeys, (key) => log(`[${id}] stdin: "${key}" is not a configured stdin sensor, dropped`));
        if (Object.keys(values).length > 0) agent.record(values, parsed.ts);
      } catch (err) {
        log(`[${id}] stdin: skipped line: ${(err as Error).message}`);
      }
    });
  }

  return {
    agent,
    sampler,
    device,
    stdinEnded,
    async stop() {
      await sampler.stop();
      await agent.stop();
    },
  };
}

/**
 * Only configured keys are published: the convention announced exactly these sensors (discovery),
 * and a stray key from a script would otherwise appear as a value no one described.
 */
function declaredValues(values: SensorValues, keys: Set<string>, onUndeclared: (key: string) => void): SensorValues {
  const kept: SensorValues = {};
  for (const [key, value] of Object.entries(values)) {
    if (keys.has(key)) kept[key] = value;
    else onUndeclared(key);
  }
  return kept;
}
