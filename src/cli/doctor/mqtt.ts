/**
 * The MQTT broker answers a CONNECT (`hearth doctor`): the embedded one on its port while the
 * gateway runs, the external one (`mqtt.mode: external`) with the gateway's credentials. Any
 * CONNACK counts as an answer: the embedded broker refuses the anonymous CONNECT the doctor sends
 * (`mqtt.allow_anonymous: false`), and saying so is an answer.
 */
import mqtt from 'mqtt';
import { localAddressOf, type Check } from './findings.js';

const CONNECT_TIMEOUT_MS = 5000;

export const checkMqtt: Check = async ({ config, running }) => {
  const m = config.mqtt;
  const external = m.mode === 'external';
  if (!external && !running) {
    return [{ check: 'mqtt', level: 'info', message: 'the embedded broker runs with the gateway, which is stopped: nothing to ask', fix: 'start the gateway and run doctor again' }];
  }
  const url = external ? m.externalUrl : `mqtt://${hostForUrl(localAddressOf(m.bindAddress))}:${running?.ports.mqtt ?? m.port}`;
  const what = external ? `the external broker ${m.externalUrl}` : `the embedded broker (${url})`;
  const answer = await connectOnce(url, external ? { username: m.externalUsername, password: m.externalPassword } : {});
  if (answer.connack === 0) return [{ check: 'mqtt', level: 'ok', message: `${what} accepted a CONNECT` }];
  if (answer.connack !== undefined) {
    if (!external) return [{ check: 'mqtt', level: 'ok', message: `${what} answered a CONNECT (refused an anonymous login, as it should: return code ${answer.connack})` }];
    return [{ check: 'mqtt', level: 'error', message: `${what} refused the gateway's login (return code ${answer.connack})`, fix: 'check mqtt.external_username and external_password against the broker\'s users (mosquitto_passwd)' }];
  }
  return [
    {
      check: 'mqtt',
      level: 'error',
      message: `${what} does not answer a CONNECT: ${answer.error}`,
      fix: external ? 'start the broker (systemctl start mosquitto) or fix mqtt.external_url' : 'check the gateway\'s log (journalctl -u hearth); devices cannot report meanwhile',
    },
  ];
};

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** One CONNECT: the CONNACK's return code, or why none came. */
async function connectOnce(url: string, credentials: { username?: string; password?: string }): Promise<{ connack?: number; error?: string }> {
  const client = mqtt.connect(url, {
    clientId: `hearth-doctor-${process.pid}`,
    reconnectPeriod: 0,
    connectTimeout: CONNECT_TIMEOUT_MS,
    clean: true,
    ...(credentials.username ? { username: credentials.username } : {}),
    ...(credentials.password ? { password: credentials.password } : {}),
  });
  try {
    return await new Promise((resolve) => {
      client.once('connect', (packet) => resolve({ connack: packet.returnCode ?? 0 }));
      client.once('error', (err: Error & { code?: unknown }) => resolve(typeof err.code === 'number' ? { connack: err.code } : { error: err.message }));
      client.once('close', () => resolve({ error: 'the connection closed without a CONNACK' }));
    });
  } finally {
    client.end(true);
  }
}
