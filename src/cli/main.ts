/**
 * The `hearth` command: `hearth run` starts the gateway; `hearth user ...` and `hearth device ...`
 * manage accounts and MQTT devices, `hearth backup`/`restore` and `hearth export` move data out and
 * in (directly on the database, or through the running gateway's admin socket, since LevelDB
 * admits one process). docs/cli.md lists every command.
 */
import { PRIVATE_UMASK } from '../app/data-dir-permissions.js';
import { hearthVersion } from '../app/version.js';

const USAGE = `Usage: hearth <command>

Commands:
  run                                  start the gateway (Client-Server API, MQTT broker, bridge)
  init [--server-name N] [--admin NAME] [--password-file F|--password-stdin] [--data-dir D] [--force]
                                       set up hearth.yaml, keys, the server name and the first admin
  status [--json]                      the running gateway's summary (uptime, memory, disk, MQTT, peers)
  user add NAME [--admin] [--password P]   create a Matrix account
  user list [--json]                   list accounts (admin flag, kind, deactivated)
  user reset-password NAME [--password P]  set a new password (printed when generated)
  user deactivate NAME                 deactivate an account (tokens revoked, devices removed)
  device add NAME [--json]             create an MQTT device (a Matrix user) and print its credentials
        [--public-key KEY | --public-key-file FILE]   ...that must sign its readings with this ed25519 key
  device key NAME (--public-key KEY | --public-key-file FILE | --unsigned)   set or clear a device's key
  device list [--json]                 list devices (with their signing policy)
  device remove NAME                   remove a device
  key show                             print the server's signing keys (current and retired)
  key rotate                           retire the signing key and make a new one (gateway stopped)
  federation status [--json]           the running gateway's outgoing federation queues and catch-up
  backup FILE                          write a consistent backup (database, telemetry, keys, media)
  restore FILE [--force]               restore a backup into the data directory (gateway stopped)
  export SENSOR [--from T] [--to T] [--resolution raw|5m|1h] [--csv|--json]
                                       a sensor's history, for spreadsheets
  doctor [--repair]                    check the database of a stopped gateway; --repair repairs it
  version                              print the version

Environment: HEARTH_DATA_DIR (default ./data), HEARTH_SERVER_NAME, HEARTH_CLIENT_PORT,
HEARTH_FEDERATION_PORT, HEARTH_MQTT_PORT, HEARTH_REGISTRATION (closed|token|open).
`;

async function main(argv: string[]): Promise<number> {
  // Everything Hearth creates (database files, media, keys, the admin socket) is private to its user.
  process.umask(PRIVATE_UMASK);
  const [command, ...rest] = argv;
  switch (command) {
    case 'run': {
      const { runGateway } = await import('../app/run.js');
      return runGateway();
    }
    case 'init': {
      const { runInitCommand } = await import('./init.js');
      return runInitCommand(rest);
    }
    case 'status': {
      const { runStatusCommand } = await import('./status.js');
      return runStatusCommand(rest);
    }
    case 'user': {
      const { runUserCommand } = await import('./user.js');
      return runUserCommand(rest);
    }
    case 'device': {
      const { runDeviceCommand } = await import('./device.js');
      return runDeviceCommand(rest);
    }
    case 'backup': {
      const { runBackupCommand } = await import('./backup.js');
      return runBackupCommand(rest);
    }
    case 'restore': {
      const { runRestoreCommand } = await import('./backup.js');
      return runRestoreCommand(rest);
    }
    case 'export': {
      const { runExportCommand } = await import('./export.js');
      return runExportCommand(rest);
    }
    case 'doctor': {
      const { runDoctorCommand } = await import('./doctor.js');
      return runDoctorCommand(rest);
    }
    case 'federation': {
      const { runFederationCommand } = await import('./federation.js');
      return runFederationCommand(rest);
    }
    case 'key': {
      const { runKeyCommand } = await import('./key.js');
      return runKeyCommand(rest);
    }
    case 'version':
    case '--version':
      process.stdout.write(`${hearthVersion()}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 1 : 0;
    default:
      process.stderr.write(`hearth: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0 || process.argv[2] !== 'run') process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`hearth: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
    // A failed start has stopped what it started; should any handle still hold the loop, exit anyway
    // rather than hang (an unreferenced timer fires only while something else keeps the process up).
    setTimeout(() => process.exit(1), 2000).unref();
  },
);
