/**
 * `hearth run`: loads the configuration, starts the gateway, and stops it cleanly on SIGTERM/SIGINT
 * (pending telemetry and MQTT persistence are written before the database closes).
 */
import { isSea } from 'node:sea';
import pino from 'pino';
import { loadConfig } from '../config/config.js';
import { securePermissions } from './data-dir-permissions.js';
import { firstAccountHint } from './first-account-hint.js';
import { Gateway } from './gateway.js';

export async function runGateway(): Promise<number> {
  const config = loadConfig();
  const log = pino({ level: config.logLevel, base: { service: 'hearth' } });
  const fixed = securePermissions(config.dataDir);
  if (fixed.length > 0) {
    log.warn({ dataDir: config.dataDir, paths: fixed.length }, 'data directory was readable by other users: now 0700, files 0600');
  }
  const gateway = new Gateway(config, log);
  try {
    await gateway.start();
  } catch (err) {
    // What did start (the database, the broker, timers) would keep the process alive, hung with
    // nothing listening: stop it, then let the caller report the failure and exit non-zero.
    await gateway.stop();
    throw err;
  }
  // One line on stdout even at the default (quiet) level: scripts wait for it.
  process.stdout.write(
    `hearth: listening on ${gateway.clientUrl} (server name ${gateway.serverName}), MQTT on port ${gateway.mqttPort ?? 'external'}, data in ${config.dataDir}\n`,
  );
  if (!(await gateway.hasPeople())) {
    const hint = firstAccountHint({
      registration: config.registration.mode,
      dataDir: config.dataDir,
      command: isSea() ? 'hearth' : 'npx hearth',
      clientUrl: config.client.publicBaseUrl,
    });
    process.stdout.write(`${hint}\n`);
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    gateway.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return 0;
}
