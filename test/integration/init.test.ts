/**
 * `hearth init` (issue 14, the operator's CLI): on an empty directory it writes hearth.yaml (which
 * the loader reads back with the chosen name), the signing key and the TLS pair (mode 0600, the
 * directory 0700), records the server name and makes the first admin; the gateway then starts on
 * that directory, serves that certificate and key, and the admin logs in. A second init is refused
 * without --force (nothing changed); without a terminal the server name is a flag. On a terminal it
 * asks, and the password is not echoed.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { connect } from 'node:tls';
import { get } from 'node:https';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/config.js';
import { runInitCommand } from '../../src/cli/init.js';
import { terminalPrompter } from '../../src/cli/prompt.js';
import { startHearth } from './helpers/server.js';

const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** `hearth ARGS` from the sources, stdin from `input` (not a terminal), the server name left to the files. */
function hearth(args: string[], input = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const { HEARTH_SERVER_NAME: _n, HEARTH_DATA_DIR: _d, ...inherited } = process.env;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: REPO_ROOT, env: inherited, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.stdin.end(input);
    child.once('exit', (code) => done({ code, stdout, stderr }));
  });
}

function emptyDir(t: { teardown(fn: () => void): void }): string {
  const parent = mkdtempSync(join(tmpdir(), 'hearth-init-'));
  t.teardown(() => rmSync(parent, { recursive: true, force: true }));
  return join(parent, 'data');
}

const mode = (path: string) => statSync(path).mode & 0o777;

async function login(baseUrl: string, user: string, password: string): Promise<{ status: number; body: { user_id?: string } }> {
  const res = await fetch(`${baseUrl}/_matrix/client/v3/login`, {
    method: 'POST',
    body: JSON.stringify({ type: 'm.login.password', identifier: { type: 'm.id.user', user }, password }),
  });
  return { status: res.status, body: (await res.json()) as { user_id?: string } };
}

/** A GET on the federation port (self-signed: not verified). */
function federationGet(port: number, path: string): Promise<unknown> {
  return new Promise((done, fail) => {
    get({ host: '127.0.0.1', port, path, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      res.on('end', () => done(JSON.parse(body)));
    }).once('error', fail);
  });
}

/** The certificate the federation port presents (DER). */
function servedCertificate(port: number): Promise<Buffer> {
  return new Promise((done, fail) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      done(socket.getPeerCertificate().raw);
      socket.end();
    });
    socket.once('error', fail);
  });
}

test('init on an empty directory: files with private modes, the gateway starts with them, the admin logs in', async (t) => {
  const dataDir = emptyDir(t);
  const password = 'init test password 1';
  const res = await hearth(['init', '--data-dir', dataDir, '--server-name', 'home.test', '--admin', 'alice', '--password-stdin'], `${password}\n`);
  t.is(res.code, 0, res.stderr);
  t.regex(res.stdout, /admin @alice:home\.test\n/);
  t.notRegex(res.stdout, /password:/, 'a given password is not printed');

  t.is(mode(dataDir), 0o700);
  for (const file of ['hearth.yaml', 'signing.key', 'federation-tls.key', 'federation-tls.crt']) t.is(mode(join(dataDir, file)), 0o600, file);
  const yaml = readFileSync(join(dataDir, 'hearth.yaml'), 'utf8');
  t.regex(yaml, /^server_name: "home\.test"$/m);
  t.regex(yaml, /^# /m, 'commented');
  const config = loadConfig({ dataDir, env: {} });
  t.is(config.serverName, 'home.test');
  t.is(config.serverNameSource, 'hearth.yaml');
  t.regex(config.registration.sharedSecret, /^[0-9a-f]{48}$/, 'the shared secret is filled in');
  const keyLine = readFileSync(join(dataDir, 'signing.key'), 'utf8');
  const keyId = `ed25519:${keyLine.split(' ')[1]}`;
  t.regex(res.stdout, new RegExp(`signing key ${keyId} `));
  const certificate = new X509Certificate(readFileSync(join(dataDir, 'federation-tls.crt')));
  t.true(certificate.checkHost('home.test') !== undefined, 'the certificate names the server');

  // The gateway on that directory: the server name from hearth.yaml, the key and certificate init made.
  const server = await startHearth({ t, env: { HEARTH_DATA_DIR: dataDir, HEARTH_SERVER_NAME: '', HEARTH_REGISTRATION: 'closed' } });
  t.teardown(() => {
    if (!t.passed) t.log(server.output());
  });
  // The line follows the first answers of the client port: wait for it.
  while (!/listening on/.test(server.output())) await new Promise((r) => setTimeout(r, 20));
  t.regex(server.output(), /server name home\.test/);
  t.notRegex(server.output(), /no accounts yet/, 'init made someone who can log in');
  const ok = await login(server.baseUrl, 'alice', password);
  t.is(ok.status, 200);
  t.is(ok.body.user_id, '@alice:home.test');
  t.is((await login(server.baseUrl, 'alice', 'wrong password')).status, 403);
  t.deepEqual(await servedCertificate(server.federationPort), certificate.raw);
  const keys = (await federationGet(server.federationPort, '/_matrix/key/v2/server')) as { server_name: string; verify_keys: Record<string, unknown> };
  t.is(keys.server_name, 'home.test');
  t.deepEqual(Object.keys(keys.verify_keys), [keyId], 'the gateway signs with the key init made');

  // A running gateway's directory is refused even with --force, and left as it was.
  const live = await hearth(['init', '--data-dir', dataDir, '--server-name', 'home.test', '--admin', 'alice', '--force']);
  t.is(live.code, 3);
  t.regex(live.stderr, /a gateway is running on .*: stop it first/);
  t.is(readFileSync(join(dataDir, 'hearth.yaml'), 'utf8'), yaml);
});

test('a second init is refused without --force and changes nothing; --force keeps the keys', async (t) => {
  const dataDir = emptyDir(t);
  const first = await hearth(['init', '--data-dir', dataDir, '--server-name', 'home.test', '--admin', 'alice']);
  t.is(first.code, 0, first.stderr);
  t.regex(first.stdout, /password: \S{24}\n/, 'a generated password is printed');
  const yaml = readFileSync(join(dataDir, 'hearth.yaml'));
  const key = readFileSync(join(dataDir, 'signing.key'));

  const again = await hearth(['init', '--data-dir', dataDir, '--server-name', 'home.test', '--admin', 'bob']);
  t.is(again.code, 3);
  t.regex(again.stderr, /already set up \(hearth\.yaml, db, signing\.key\): nothing was changed/);
  t.deepEqual(readFileSync(join(dataDir, 'hearth.yaml')), yaml);

  const otherName = await hearth(['init', '--data-dir', dataDir, '--server-name', 'other.test', '--admin', 'bob', '--force']);
  t.is(otherName.code, 3);
  t.regex(otherName.stderr, /belongs to the server name "home\.test", not "other\.test"/);
  t.deepEqual(readFileSync(join(dataDir, 'hearth.yaml')), yaml, 'a refused name leaves hearth.yaml alone');

  const forced = await hearth(['init', '--data-dir', dataDir, '--server-name', 'home.test', '--admin', 'bob', '--force']);
  t.is(forced.code, 0, forced.stderr);
  t.regex(forced.stdout, /rewrote .*hearth\.yaml/);
  t.deepEqual(readFileSync(join(dataDir, 'signing.key')), key, 'the signing key is kept');
});

test('without a terminal the answers are flags: no server name, no init', async (t) => {
  const dataDir = emptyDir(t);
  const res = await hearth(['init', '--data-dir', dataDir, '--admin', 'alice']);
  t.is(res.code, 2);
  t.regex(res.stderr, /--server-name is needed/);
  const bad = await hearth(['init', '--data-dir', dataDir, '--server-name', 'home.test', '--admin', 'Not Valid']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /cannot be a user name/);
  t.throws(() => statSync(join(dataDir, 'hearth.yaml')), undefined, 'nothing written');
});

test('on a terminal: init asks, re-asks a wrong answer, and does not echo the password', async (t) => {
  const dataDir = emptyDir(t);
  const input = new PassThrough();
  const terminal = new PassThrough();
  let shown = '';
  terminal.on('data', (chunk: Buffer) => (shown += chunk.toString('utf8')));
  const lines: string[] = [];
  const prompter = terminalPrompter(input, terminal);
  // Each answer once its question is shown.
  const answers: [RegExp, string][] = [
    [/Server name .*: $/, 'bad name!'],
    [/Server name .*: $/, 'home.test:8448'],
    [/First admin account .*\[admin\]: $/, ''],
    [/Password \(empty: generate one\): $/, 'typed secret 42'],
    [/The same password again: $/, 'typed secret 43'],
    [/Password \(empty: generate one\): $/, 'typed secret 42'],
    [/The same password again: $/, 'typed secret 42'],
  ];
  const feeding = (async () => {
    // What the terminal shows: readline's cursor moves (ANSI escapes) left out.
    const visible = () => shown.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
    let seen = 0;
    for (const [question, answer] of answers) {
      while (!question.test(visible().slice(seen))) await new Promise((r) => setTimeout(r, 5));
      seen = visible().length;
      input.write(`${answer}\r`);
    }
  })();
  const code = await runInitCommand(['--data-dir', dataDir], { prompter, env: {}, stdin: input, out: (l) => lines.push(l), err: (l) => lines.push(l) });
  await feeding;
  prompter.close();
  t.is(code, 0, lines.join('\n'));
  t.regex(shown, /not a server name/);
  t.regex(shown, /the two differ/);
  t.false(shown.includes('typed secret'), 'the password never reaches the terminal');
  t.true(lines.includes('admin @admin:home.test:8448'));
  t.is(loadConfig({ dataDir, env: {} }).serverName, 'home.test:8448');
});
