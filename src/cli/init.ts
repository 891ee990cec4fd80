/**
 * `hearth init`: sets up a data directory before the first start, so that the choices a first run
 * would make silently are made on purpose:
 * - `hearth.yaml`, the commented template with every setting (config/template.ts) and the chosen
 *   server name;
 * - the server name recorded in the database (app/server-name.ts: it cannot change later);
 * - the signing key (federation/keys/key-files.ts) and, with federation TLS on and no certificate
 *   configured, the self-signed certificate (federation/transport/tls-certificate.ts), made by the
 *   same code as a first start;
 * - the first admin account.
 * On a terminal it asks for what the flags did not give (the password without echo); otherwise it
 * takes flags: `--server-name`, `--admin NAME`, `--password-file F` or `--password-stdin` (without
 * either a password is generated and printed). An existing hearth.yaml or an initialised data
 * directory is refused (exit 3) unless `--force`; a running gateway's always.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isSea } from 'node:sea';
import { join, resolve } from 'node:path';
import { AccountService } from '../accounts/accounts.js';
import { loadConfig, newSharedSecret } from '../config/config.js';
import { renderConfigTemplate } from '../config/template.js';
import { isValidNewLocalpart, parseServerName } from '../core/identifiers.js';
import { ServerNameMismatchError, settleServerName } from '../app/server-name.js';
import { loadOrCreateKeyring, SIGNING_KEY_FILE } from '../federation/keys/key-files.js';
import { GENERATED_CERT_FILE, GENERATED_KEY_FILE, loadOrCreateTlsCertificate } from '../federation/transport/tls-certificate.js';
import { Database } from '../storage/db.js';
import { StreamNotifier } from '../stream/notifier.js';
import { lastStreamPosition } from '../stream/stream-position.js';
import { terminalPrompter, type Prompter } from './prompt.js';

export interface InitContext {
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Where questions are written (the terminal). */
  terminal: NodeJS.WritableStream;
  out(line: string): void;
  err(line: string): void;
  /** Questions on a terminal; tests pass their own. */
  prompter?: Prompter;
}

interface InitArgs {
  dataDir?: string;
  serverName?: string;
  admin?: string;
  passwordFile?: string;
  passwordStdin: boolean;
  force: boolean;
}

const USAGE = `usage: hearth init [--data-dir DIR] [--server-name NAME] [--admin NAME]
                   [--password-file FILE | --password-stdin] [--force]`;

/** Exit codes (docs/cli.md): 2 bad usage, 3 refused. */
const USAGE_ERROR = 2;
const REFUSED = 3;

class InitError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export async function runInitCommand(argv: string[], context?: Partial<InitContext>): Promise<number> {
  const out = context?.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = context?.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const env = context?.env ?? process.env;
  const stdin = context?.stdin ?? process.stdin;
  const args = parseInitArgs(argv);
  if (typeof args === 'string') {
    err(`hearth init: ${args}\n${USAGE}`);
    return USAGE_ERROR;
  }
  let prompter = context?.prompter;
  try {
    const dataDir = resolve(args.dataDir ?? env.HEARTH_DATA_DIR ?? './data');
    refuseExisting(dataDir, args.force);
    const interactive = prompter !== undefined || stdin.isTTY === true;
    if (interactive && (args.serverName === undefined || args.admin === undefined || (args.passwordFile === undefined && !args.passwordStdin))) {
      prompter ??= terminalPrompter(stdin, context?.terminal ?? process.stdout);
    }
    const answers = await gather(args, env, stdin, prompter);
    const done = await initialise(dataDir, answers, env, args.force);
    for (const line of done) out(line);
    return 0;
  } catch (e) {
    if (e instanceof InitError) {
      err(`hearth init: ${e.message}`);
      return e.exitCode;
    }
    err(`hearth init: ${(e as Error).message}`);
    return 1;
  } finally {
    if (prompter !== context?.prompter) prompter?.close();
  }
}

function parseInitArgs(argv: string[]): InitArgs | string {
  const args: InitArgs = { passwordStdin: false, force: false };
  const valued: Record<string, keyof InitArgs> = { '--data-dir': 'dataDir', '--server-name': 'serverName', '--admin': 'admin', '--password-file': 'passwordFile' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (Object.hasOwn(valued, flag)) {
      const value = eq > 0 && flag !== arg ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined || value === '') return `${flag} needs a value`;
      (args as unknown as Record<string, string>)[valued[flag]!] = value;
    } else if (arg === '--password-stdin') args.passwordStdin = true;
    else if (arg === '--force') args.force = true;
    else return `unknown argument "${arg}"`;
  }
  if (args.passwordStdin && args.passwordFile !== undefined) return '--password-file and --password-stdin exclude each other';
  return args;
}

/** A data directory a gateway already used, or that `init` already set up. */
function refuseExisting(dataDir: string, force: boolean): void {
  const found = ['hearth.yaml', 'db', SIGNING_KEY_FILE].filter((name) => existsSync(join(dataDir, name)));
  if (found.length > 0 && !force) {
    throw new InitError(`${dataDir} is already set up (${found.join(', ')}): nothing was changed. --force rewrites hearth.yaml and adds the admin, keeping the database and keys`, REFUSED);
  }
}

interface Answers {
  serverName: string;
  admin: string;
  /** Undefined: generate one (printed). */
  password: string | undefined;
}

async function gather(args: InitArgs, env: NodeJS.ProcessEnv, stdin: NodeJS.ReadableStream, prompter: Prompter | undefined): Promise<Answers> {
  const fromEnv = env.HEARTH_SERVER_NAME || undefined;
  let serverName = args.serverName;
  if (serverName !== undefined && fromEnv !== undefined && serverName !== fromEnv) {
    throw new InitError(`--server-name is "${serverName}" but HEARTH_SERVER_NAME is "${fromEnv}": the gateway would refuse to start. Unset HEARTH_SERVER_NAME or give the same name`, USAGE_ERROR);
  }
  serverName ??= fromEnv;
  if (serverName === undefined && prompter) {
    serverName = await askUntilValid(
      prompter,
      'Server name (user ids will read @name:<server name>; it cannot change later)',
      hostname(),
      (name) => (parseServerName(name) ? undefined : 'not a server name (a host name or IP address, optionally :port)'),
    );
  }
  if (serverName === undefined) throw new InitError('--server-name is needed (not on a terminal, nothing can be asked)', USAGE_ERROR);
  if (!parseServerName(serverName)) throw new InitError(`"${serverName}" is not a server name (a host name or IP address, optionally :port)`, USAGE_ERROR);

  let admin = args.admin?.replace(new RegExp(`^@(.*):${escapeRegExp(serverName)}$`), '$1');
  if (admin === undefined && prompter) {
    admin = await askUntilValid(prompter, 'First admin account (the name to log in with)', 'admin', (name) =>
      isValidNewLocalpart(name, serverName) ? undefined : 'only a-z, 0-9, ".", "_", "=", "-", "/" and "+"',
    );
  }
  if (admin === undefined) throw new InitError('--admin NAME is needed (not on a terminal, nothing can be asked)', USAGE_ERROR);
  if (!isValidNewLocalpart(admin, serverName)) throw new InitError(`"${admin}" cannot be a user name: only a-z, 0-9, ".", "_", "=", "-", "/" and "+"`, USAGE_ERROR);

  let password: string | undefined;
  if (args.passwordFile !== undefined) password = withoutFinalNewline(readFileSync(args.passwordFile, 'utf8'));
  else if (args.passwordStdin) password = withoutFinalNewline(await readAll(stdin));
  else if (prompter) password = await askPassword(prompter);
  if (password === '') throw new InitError('the password is empty', USAGE_ERROR);
  return { serverName, admin, password };
}

async function askUntilValid(prompter: Prompter, question: string, fallback: string, problem: (answer: string) => string | undefined): Promise<string> {
  for (;;) {
    const answer = await prompter.ask(question, fallback);
    const wrong = problem(answer);
    if (wrong === undefined) return answer;
    prompter.say(`  ${wrong}`);
  }
}

async function askPassword(prompter: Prompter): Promise<string | undefined> {
  for (;;) {
    const first = await prompter.askSecret('Password (empty: generate one)');
    if (first === '') return undefined;
    const again = await prompter.askSecret('The same password again');
    if (again === first) return first;
    prompter.say('  the two differ');
  }
}

/**
 * Does what a first start would (same code), in an order that leaves nothing half-chosen: the
 * database first, where the server name is recorded (a name differing from one recorded earlier
 * stops here, before hearth.yaml is touched), then the files, then the admin.
 */
async function initialise(dataDir: string, answers: Answers, env: NodeJS.ProcessEnv, force: boolean): Promise<string[]> {
  const lines: string[] = [];
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  let db: Database;
  try {
    db = await Database.open(join(dataDir, 'db'), { cacheSizeBytes: 1 << 20, writeBufferSizeBytes: 1 << 20 });
  } catch (e) {
    if ((e as Error).message.includes('in use by another process')) throw new InitError(`a gateway is running on ${dataDir}: stop it first (init never changes a live data directory)`, REFUSED);
    throw e;
  }
  try {
    const { serverName } = answers;
    try {
      await settleServerName(db, { serverName, serverNameSource: 'hearth.yaml', dataDir });
    } catch (e) {
      if (e instanceof ServerNameMismatchError) {
        throw new InitError(`${dataDir} belongs to the server name "${e.recorded}", not "${serverName}": user ids and rooms carry it. Use an empty data directory for a new name`, REFUSED);
      }
      throw e;
    }
    lines.push(`server name ${serverName}, recorded in ${join(dataDir, 'db')}`);

    const configFile = join(dataDir, 'hearth.yaml');
    const existed = existsSync(configFile);
    writePrivately(configFile, renderConfigTemplate({ sharedSecret: newSharedSecret(), serverName }));
    lines.push(`${existed && force ? 'rewrote' : 'wrote'} ${configFile} (every setting, commented, with its default)`);
    // Read back as the gateway will: a template the loader refuses fails here, not at the first start.
    const config = loadConfig({ dataDir, env });

    const keyring = loadOrCreateKeyring(dataDir, serverName);
    lines.push(`signing key ${keyring.current.keyId} in ${join(dataDir, SIGNING_KEY_FILE)}`);
    const fed = config.federation;
    if (fed.tls && fed.tlsCertificatePath === '' && fed.tlsPrivateKeyPath === '') {
      const tls = await loadOrCreateTlsCertificate({ dataDir, serverName, certificatePath: '', privateKeyPath: '' });
      lines.push(
        `federation TLS: ${tls.source === 'generated' ? 'a self-signed certificate made' : 'the self-signed certificate kept'} (${join(dataDir, GENERATED_CERT_FILE)}, key ${join(dataDir, GENERATED_KEY_FILE)}); a CA-signed one goes in federation.tls_certificate_path`,
      );
    }

    const password = answers.password ?? randomBytes(18).toString('base64url');
    const accounts = new AccountService(db, { ...config, serverName }, new StreamNotifier(await lastStreamPosition(db)));
    const userId = `@${answers.admin}:${serverName}`;
    const existing = await accounts.getUser(userId);
    if (existing && (existing.deactivated || existing.kind !== 'user')) {
      throw new InitError(`${userId} exists and is ${existing.deactivated ? 'deactivated' : 'an MQTT device'}: choose another admin name`, REFUSED);
    }
    if (existing && !existing.admin) throw new InitError(`${userId} exists and is not an admin: choose another admin name`, REFUSED);
    if (existing) {
      await accounts.setPassword(userId, password, { logoutDevices: false });
      lines.push(`admin ${userId} (existed: password set anew)`);
    } else {
      await accounts.createUser(answers.admin, { password, admin: true });
      lines.push(`admin ${userId}`);
    }
    if (answers.password === undefined) lines.push(`password: ${password}`);
    const dataDirEnv = dataDir === resolve('./data') ? '' : `HEARTH_DATA_DIR=${dataDir} `;
    lines.push(`Next: ${dataDirEnv}${isSea() ? 'hearth' : 'npx hearth'} run, then log in as ${answers.admin} with a Matrix client at ${config.client.publicBaseUrl}`);
  } finally {
    await db.close();
  }
  return lines;
}

/** Written whole or not at all, readable by the gateway's user only (it holds the shared secret). */
function writePrivately(file: string, text: string): void {
  const temp = `${file}.tmp`;
  writeFileSync(temp, text, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, file);
}

function withoutFinalNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
