/**
 * The gateway's ports (`hearth doctor`): with the gateway stopped, each must be free to bind (a
 * Debian `mosquitto` on 1883 is the classic: the gateway would not start); with it running, each
 * must answer: the Client-Server API its `/versions`, the federation API its
 * `/_matrix/federation/v1/version` as Hearth, the MQTT port a TCP connection (the broker check sends
 * a CONNECT). A configured port the running gateway does not listen on (hearth.yaml changed since
 * it started) is said as such.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, createServer } from 'node:net';
import { describeListenError, type ListenerDescription } from '../../app/listen-error.js';
import { localAddressOf, type Check, type DoctorContext, type Finding } from './findings.js';

const PROBE_TIMEOUT_MS = 5000;

interface Listener extends ListenerDescription {
  key: 'client' | 'federation' | 'mqtt';
  probe(host: string, port: number, context: DoctorContext): Promise<string>;
}

function listenersOf(context: DoctorContext): Listener[] {
  const { config } = context;
  const listeners: Listener[] = [
    {
      key: 'client',
      what: 'the Client-Server API',
      host: config.client.bindAddress,
      port: config.client.port,
      setting: 'client.port',
      env: 'HEARTH_CLIENT_PORT',
      probe: async (host, port) => {
        const { status, body } = await get(false, host, port, '/_matrix/client/versions', false);
        const versions = (body as { versions?: unknown } | undefined)?.versions;
        if (status !== 200 || !Array.isArray(versions)) throw new Error(`answered ${status}, not the Client-Server API's /versions`);
        return 'answers /_matrix/client/versions';
      },
    },
    {
      key: 'federation',
      what: 'the federation API',
      host: config.federation.bindAddress,
      port: config.federation.port,
      setting: 'federation.port',
      env: 'HEARTH_FEDERATION_PORT',
      probe: async (host, port) => {
        // Our own listener: its certificate is checked by the certificate check, not here.
        const { status, body } = await get(config.federation.tls, host, port, '/_matrix/federation/v1/version', false);
        const name = (body as { server?: { name?: unknown } } | undefined)?.server?.name;
        if (status !== 200 || name !== 'Hearth') throw new Error(`answered ${status}${typeof name === 'string' ? ` as ${name}` : ''}, not Hearth's /_matrix/federation/v1/version`);
        return `answers /_matrix/federation/v1/version${config.federation.tls ? ' over TLS' : ' (plain HTTP, for a reverse proxy)'}`;
      },
    },
  ];
  if (config.mqtt.mode === 'embedded') {
    listeners.push({
      key: 'mqtt',
      what: 'the MQTT broker',
      host: config.mqtt.bindAddress,
      port: config.mqtt.port,
      setting: 'mqtt.port',
      env: 'HEARTH_MQTT_PORT',
      probe: async (host, port) => {
        await tcpConnect(host, port);
        return 'accepts connections';
      },
    });
  }
  return listeners;
}

export const checkPorts: Check = async (context) => {
  const findings: Finding[] = [];
  for (const listener of listenersOf(context)) {
    const where = `port ${listener.port} (${listener.what}, ${listener.host}:${listener.port})`;
    if (!context.running) {
      const problem = await bindProblem(listener);
      findings.push(
        problem === undefined
          ? { check: 'ports', level: 'ok', message: `${where} is free for the gateway` }
          : { check: 'ports', level: problem.code === 'EACCES' ? 'warning' : 'error', message: problem.message, fix: problem.fix },
      );
      continue;
    }
    const actual = context.running.ports[listener.key];
    if (actual !== null && actual !== listener.port) {
      findings.push({
        check: 'ports',
        level: 'warning',
        message: `the running gateway listens for ${listener.what} on port ${actual}, the configuration says ${listener.port}`,
        fix: 'restart the gateway to apply the configuration (systemctl restart hearth), or set the port back',
      });
    }
    const host = localAddressOf(listener.host);
    try {
      const answer = await listener.probe(host, listener.port, context);
      findings.push({ check: 'ports', level: 'ok', message: `${where} ${answer}` });
    } catch (err) {
      findings.push({
        check: 'ports',
        level: 'error',
        message: `${where}: nothing answers as expected although the gateway runs (${(err as Error).message})`,
        fix: `check the gateway's log (journalctl -u hearth); if another program took the port, stop it or set ${listener.setting} (${listener.env}) elsewhere, then restart the gateway`,
      });
    }
  }
  return findings;
};

/** Binds the port for a moment, as the gateway will: the reason it could not, with what to do. */
async function bindProblem(listener: Listener): Promise<{ code: string | undefined; message: string; fix: string } | undefined> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: listener.host, port: listener.port, exclusive: true }, resolve);
    });
  } catch (err) {
    const described = describeListenError(err, listener);
    // The listen error names the port and what to do about it (app/listen-error.ts, as `hearth run` says it).
    const message = described instanceof Error ? described.message : `port ${listener.port} (${listener.what}): ${(err as Error).message}`;
    const code = (err as { code?: string }).code;
    // A low port: the gateway's unit may grant what this user lacks (CAP_NET_BIND_SERVICE), so only a warning.
    if (code === 'EACCES') return { code, message, fix: 'unless the gateway runs with CAP_NET_BIND_SERVICE (or as root), it would not start; run doctor as the gateway\'s user to be sure' };
    return { code, message, fix: `the gateway would not start. Which program holds it: ss -ltnp 'sport = :${listener.port}'` };
  } finally {
    await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  }
  return undefined;
}

function tcpConnect(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: PROBE_TIMEOUT_MS });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(new Error('no answer in time'));
    });
    socket.once('error', (err) => reject(err));
  });
}

/** A GET with a deadline and a small body limit: the answer of a listener we expect to be ours. */
export function get(
  tls: boolean,
  host: string,
  port: number,
  path: string,
  verifyTls: boolean,
  opts: { servername?: string | undefined; hostHeader?: string } = {},
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const options = {
      host,
      port,
      path,
      method: 'GET',
      timeout: PROBE_TIMEOUT_MS,
      rejectUnauthorized: verifyTls,
      ...(opts.servername ? { servername: opts.servername } : {}),
      ...(opts.hostHeader ? { headers: { Host: opts.hostHeader } } : {}),
    };
    const req = (tls ? httpsRequest : httpRequest)(options, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (text.length > 64 * 1024) req.destroy(new Error('answer too large'));
      });
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.once('timeout', () => req.destroy(new Error('no answer in time')));
    req.once('error', reject);
    req.end();
  });
}
