/**
 * MQTT as a fuzz target: the messages real devices send in every convention the bridge reads (Home
 * Assistant discovery and state, Zigbee2MQTT, Homie 5, Tasmota: from devices/agent/conventions,
 * the same code the simulators run; plus a raw rule), mutated in topic and payload (JSON, bytes,
 * CBOR, text), published by each device's own login, next to hostile CONNECT and SUBSCRIBE packets
 * and damaged packets. Verdicts: an acknowledgement or the server closing the connection (what MQTT
 * requires for a protocol violation) within the bound; a hang or a refused TCP connection is a
 * finding.
 */
import { Encoder } from 'cbor-x';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { CONVENTIONS, bridgeDevicesMessage, type ConventionName } from '../../../devices/agent/conventions/index.js';
import type { DeviceDescription, OutboundMessage } from '../../../devices/agent/device.js';
import type { Prng } from '../prng.js';
import type { FuzzTarget, Verdict } from '../runner.js';
import { mutateBytes, mutateJson } from '../mutate.js';
import { hostileString, randomJson, type Json } from '../values.js';
import { RawMqttConnection, type MqttOutcome } from '../mqtt-wire.js';
import { percentEncode, WireClient } from '../http-wire.js';

export interface MqttCredentials {
  username: string;
  password: string;
}

export interface MqttTargetOptions {
  host: string;
  mqttPort: number;
  httpPort: number;
  /** `hearth device add` against the running gateway. */
  addDevice(name: string): Promise<MqttCredentials>;
  /** An admin's access token (the bridge invites admins to every device room). */
  adminToken: string;
  hangBoundMs: number;
}

/** The raw rule the fuzz gateway is configured with (hearth.yaml `bridge.raw_rules`). */
export const FUZZ_RAW_RULE_YAML = `  raw_rules:
    - topic: fzraw/+/reading
      device: $1
      sensor: value
      value_path: v
`;

interface FuzzDevice {
  convention: ConventionName | 'raw';
  description: DeviceDescription;
  credentials: MqttCredentials;
  connection?: Promise<RawMqttConnection | undefined>;
}

type MqttInput =
  | { kind: 'publish'; device: number; topic: Buffer; payload: Buffer; qos: 0 | 1; retain: boolean; seedTopic: string }
  | { kind: 'subscribe'; device: number; filters: Buffer[] }
  | { kind: 'connect'; clientId: Buffer; username?: Buffer; password?: Buffer; protocolVersion: number; keepalive: number; clean: boolean; will?: { topic: Buffer; payload: Buffer } }
  | { kind: 'raw'; device: number; bytes: Buffer };

const CONVENTION_NAMES: ConventionName[] = ['homeassistant', 'zigbee2mqtt', 'homie', 'tasmota'];
const cbor = new Encoder({ useRecords: false });

function describe(id: string, withSwitch: boolean): DeviceDescription {
  const sensors: DeviceDescription['sensors'] = [
    { key: 'temperature', kind: 'sensor', unit: '°C', deviceClass: 'temperature' },
    { key: 'humidity', kind: 'sensor', unit: '%', deviceClass: 'humidity' },
  ];
  if (withSwitch) sensors.push({ key: 'power', kind: 'switch', deviceClass: 'switch' });
  return { id, name: `Fuzz ${id}`, model: 'FZ-1', manufacturer: 'Hearth fuzz', sensors };
}

/** The messages a device of this convention sends: its announcement, readings, will and goodbye. */
function seedMessages(device: FuzzDevice, rng: Prng): OutboundMessage[] {
  const d = device.description;
  if (device.convention === 'raw') {
    return [{ topic: `fzraw/${d.id}/reading`, payload: JSON.stringify({ v: rng.range(-40, 40) }), retain: false }];
  }
  const convention = CONVENTIONS[device.convention];
  const reading = { ts: Date.now() - rng.int(86_400_000), values: { temperature: rng.range(-400, 400) / 10, humidity: rng.range(0, 100), power: rng.chance(0.5) ? 'ON' : 'OFF' } };
  const messages = [...convention.announce(d), ...convention.encodeReading(d, reading), convention.will(d), convention.goodbye(d)];
  if (device.convention === 'zigbee2mqtt') messages.push(bridgeDevicesMessage([d]));
  if (device.convention === 'tasmota') {
    messages.push({ topic: `stat/${d.id}/RESULT`, payload: JSON.stringify({ POWER: 'ON' }), retain: false });
    messages.push({ topic: `tele/${d.id}/STATE`, payload: JSON.stringify({ Time: '2025-01-01T00:00:00', Uptime: '0T00:01:00', POWER: 'OFF', Wifi: { RSSI: 80, Signal: -60 } }), retain: false });
  }
  return messages;
}

function tryParseJson(text: string): Json | undefined {
  try {
    return JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
}

function mutatePayload(rng: Prng, seed: string): Buffer {
  const parsed = tryParseJson(seed);
  return rng.weighted<() => Buffer>([
    [4, () => (parsed !== undefined ? Buffer.from(JSON.stringify(mutateJson(rng, parsed)), 'utf8') : Buffer.from(hostileString(rng), 'utf8'))],
    [2, () => mutateBytes(rng, Buffer.from(seed, 'utf8'))],
    [2, () => Buffer.from(cbor.encode(parsed !== undefined ? (rng.chance(0.5) ? parsed : mutateJson(rng, parsed)) : randomJson(rng, 2)))],
    [1, () => mutateBytes(rng, Buffer.from(cbor.encode(parsed ?? seed)))],
    [1, () => Buffer.from(rng.pick(['ON', 'OFF', 'true', 'false', 'Online', 'Offline', 'init', 'ready', 'lost', '', 'nan', '1e999', '-0', '  42  ', hostileString(rng)]), 'utf8')],
    [1, () => Buffer.from(JSON.stringify(randomJson(rng, 3)), 'utf8')],
    [1, () => Buffer.from(seed, 'utf8')],
  ])();
}

function mutateTopic(rng: Prng, seed: string, otherIds: string[]): Buffer {
  const levels = seed.split('/');
  return rng.weighted<() => Buffer>([
    [3, () => {
      levels[rng.int(levels.length)] = hostileString(rng).slice(0, 100);
      return Buffer.from(levels.join('/'), 'utf8');
    }],
    [2, () => Buffer.from(seed.replace(/fz[a-z0-9]+/, rng.pick(otherIds)), 'utf8')],
    [1, () => Buffer.from(`${seed}/${rng.pick(['+', '#', '', '$state', 'set', 'config', '\u0000', '..'])}`, 'utf8')],
    [1, () => Buffer.concat([Buffer.from(seed, 'utf8'), Buffer.from([rng.pick([0x00, 0xff, 0xc0, 0x80, 0xed])])])],
    [1, () => Buffer.from(Array.from({ length: rng.pick([17, 64, 1000]) }, (_, i) => `l${i}`).join('/'), 'utf8')],
    [1, () => Buffer.from(rng.pick(['$SYS/x', '$hearth/x', '#', '+', '/', '//', 'homeassistant/status', 'zigbee2mqtt/bridge/request/permit_join', 'cmnd/fzhealth/POWER']), 'utf8')],
  ])();
}

/** True when the MQTT fixed header's remaining length asks for more than the bytes (plus a PINGREQ) hold. */
function declaresMoreThanSent(bytes: Buffer): boolean {
  let length = 0;
  let multiplier = 1;
  let i = 1;
  for (; i < Math.min(bytes.length, 5); i++) {
    length += (bytes[i]! & 0x7f) * multiplier;
    multiplier *= 128;
    if ((bytes[i]! & 0x80) === 0) break;
  }
  return bytes.length < 2 || 1 + i + length > bytes.length + 2;
}

// MQTT strings carry a 2-byte length: 65,535 bytes is the longest filter a packet can hold (mqtt-packet
// writes only the header of a longer one, a truncated packet the server rightly waits on).
const HOSTILE_FILTERS = ['#', '+', '+/+', '$SYS/#', '$hearth/#', 'a/#/b', 'a/b#', 'a+/b', '', '/', 'cmnd/+/POWER', 'zigbee2mqtt/+/set', 'homie/5/+/+/+/set', '\u0000', 'x'.repeat(65_535)];

export class MqttTarget implements FuzzTarget<MqttInput> {
  readonly name = 'mqtt';
  private readonly devices: FuzzDevice[] = [];
  private readonly http: WireClient;
  private health?: MqttCredentials;
  private healthSerial = 0;

  constructor(private readonly opts: MqttTargetOptions) {
    this.http = new WireClient(opts.host, opts.httpPort);
  }

  async setup(): Promise<void> {
    const plan: Array<[FuzzDevice['convention'], string]> = [
      ['homeassistant', 'fzha'],
      ['zigbee2mqtt', 'fzz2m'],
      ['homie', 'fzhomie'],
      ['tasmota', 'fztasmota'],
      ['raw', 'fzraw'],
      ['homeassistant', 'fzha2'],
      ['tasmota', 'fztasmota2'],
    ];
    for (const [convention, id] of plan) {
      this.devices.push({ convention, description: describe(id, id.length % 2 === 0), credentials: await this.opts.addDevice(id) });
    }
    this.health = await this.opts.addDevice('fzhealth');
  }

  generate(rng: Prng): MqttInput {
    const kind = rng.weighted<MqttInput['kind']>([
      [85, 'publish'],
      [6, 'subscribe'],
      [7, 'connect'],
      [2, 'raw'],
    ]);
    const deviceIndex = rng.int(this.devices.length);
    const device = this.devices[deviceIndex]!;
    const ids = this.devices.map((d) => d.description.id).concat(['fzhealth', 'zigbee2mqtt', 'bridge']);
    switch (kind) {
      case 'publish': {
        const seed = rng.pick(seedMessages(device, rng));
        const topic = rng.chance(0.2) ? mutateTopic(rng, seed.topic, ids) : Buffer.from(seed.topic, 'utf8');
        const payload = rng.chance(0.75) ? mutatePayload(rng, seed.payload) : Buffer.from(seed.payload, 'utf8');
        const big = rng.chance(0.01) ? Buffer.alloc(rng.pick([65_000, 70_000, 140_000]), 0x20) : undefined;
        return { kind, device: deviceIndex, topic, payload: big ?? payload, qos: rng.chance(0.85) ? 1 : 0, retain: rng.chance(0.3), seedTopic: seed.topic };
      }
      case 'subscribe':
        return {
          kind,
          device: deviceIndex,
          filters: Array.from({ length: rng.range(1, 3) }, () =>
            Buffer.from(rng.chance(0.5) ? rng.pick(HOSTILE_FILTERS) : rng.pick(device.convention === 'raw' ? ['fzraw/#'] : CONVENTIONS[device.convention].commandTopics(device.description).concat(['x'])) , 'utf8'),
          ),
        };
      case 'connect': {
        const real = rng.chance(0.5) ? device.credentials : undefined;
        const asBuffer = (s: string) => Buffer.from(s, 'utf8');
        return {
          kind,
          clientId: asBuffer(rng.chance(0.5) ? `fz-${rng.nextU32()}` : hostileString(rng).slice(0, 200)),
          username: rng.chance(0.1) ? undefined : asBuffer(real && rng.chance(0.7) ? real.username : hostileString(rng).slice(0, 300)),
          password: rng.chance(0.1) ? undefined : asBuffer(real && rng.chance(0.5) ? real.password : hostileString(rng).slice(0, 300)),
          protocolVersion: rng.weighted([[8, 4], [1, 3], [1, 5]]),
          keepalive: rng.pick([0, 1, 60, 65535]),
          clean: rng.chance(0.7),
          will: rng.chance(0.3) ? { topic: mutateTopic(rng, `tele/${device.description.id}/LWT`, ids), payload: Buffer.from('Offline') } : undefined,
        };
      }
      case 'raw': {
        const seed = rng.pick(seedMessages(device, rng));
        const packet = mqttPacket.generate({ cmd: 'publish', topic: seed.topic, payload: Buffer.from(seed.payload), qos: 1, messageId: 7, retain: false, dup: false } as Packet);
        return { kind, device: deviceIndex, bytes: mutateBytes(rng, packet) };
      }
    }
  }

  async execute(input: MqttInput): Promise<Verdict> {
    const bound = this.opts.hangBoundMs;
    if (input.kind === 'connect') {
      let conn: RawMqttConnection;
      try {
        conn = await RawMqttConnection.open(this.opts.host, this.opts.mqttPort, bound);
      } catch (err) {
        return { ok: false, kind: 'connection-error', detail: `TCP connect: ${(err as Error).message}` };
      }
      try {
        const outcome = await conn.connectPacket(
          {
            clientId: input.clientId,
            username: input.username,
            // MQTT 3.1.1 [MQTT-3.1.2-22]: no password without a user name (mqtt-packet will not write one).
            password: input.username === undefined ? undefined : input.password,
            protocolVersion: input.protocolVersion,
            keepalive: input.keepalive,
            clean: input.clean,
            will: input.will && { topic: input.will.topic.toString('utf8'), payload: input.will.payload, qos: 1, retain: false },
          },
          bound,
        );
        return this.verdict(outcome);
      } finally {
        conn.close();
      }
    }
    const device = this.devices[input.device]!;
    const conn = await this.connection(device);
    if (!conn) return { ok: false, kind: 'connection-error', detail: `device ${device.description.id} could not connect with its own credentials` };
    if (input.kind === 'raw') {
      // Damaged bytes leave the stream in an unknown state: this connection is not reused.
      device.connection = undefined;
      const outcome = await conn.writeRaw(input.bytes, bound);
      conn.close();
      // A length field that promises more bytes than were sent: the server rightly waits for them
      // (until the keep-alive ends the connection), and the PINGREQ sent after became part of it.
      if (outcome.kind === 'hang' && declaresMoreThanSent(input.bytes)) return { ok: true, label: 'incomplete packet, server waits' };
      return this.verdict(outcome);
    }
    const outcome =
      input.kind === 'publish'
        ? await conn.publish(input.topic, input.payload, { qos: input.qos, retain: input.retain }, bound)
        : // mqtt-packet writes filters and will topics only from strings (ill-formed bytes: the `raw` inputs).
          await conn.subscribe(input.filters.map((topic) => ({ topic: topic.toString('utf8'), qos: 1 as const })), bound);
    // A connection that went silent is not reused: the next input would only wait on it again.
    if (outcome.kind !== 'acked') {
      conn.close();
      device.connection = undefined;
    }
    return this.verdict(outcome);
  }

  reproducer(input: MqttInput): Record<string, unknown> {
    const show = (b: Buffer | undefined) => (b === undefined ? undefined : b.length > 3000 ? `${b.length} bytes: ${b.subarray(0, 100).toString('base64')}...` : Buffer.from(b.toString('utf8'), 'utf8').equals(b) ? b.toString('utf8') : `base64:${b.toString('base64')}`);
    switch (input.kind) {
      case 'publish':
        return { kind: 'publish', as: this.devices[input.device]!.description.id, topic: show(input.topic), payload: show(input.payload), qos: input.qos, retain: input.retain, seedTopic: input.seedTopic };
      case 'subscribe':
        return { kind: 'subscribe', as: this.devices[input.device]!.description.id, filters: input.filters.map(show) };
      case 'connect':
        return { kind: 'connect', clientId: show(input.clientId), username: show(input.username), password: show(input.password), protocolVersion: input.protocolVersion, keepalive: input.keepalive, clean: input.clean, will: input.will && { topic: show(input.will.topic) } };
      case 'raw':
        return { kind: 'raw', as: this.devices[input.device]!.description.id, bytes: `base64:${input.bytes.toString('base64')}` };
    }
  }

  /**
   * An ordinary device and person: a Tasmota reading with a value never sent before is acknowledged
   * and shows up as the sensor's state in the device's room, read by an admin over HTTP.
   */
  async healthCheck(): Promise<void> {
    const bound = Math.max(this.opts.hangBoundMs, 15_000);
    const conn = await RawMqttConnection.open(this.opts.host, this.opts.mqttPort, bound);
    const voltage = 100 + (++this.healthSerial % 100) + Math.round(Math.random() * 1000) / 1000;
    try {
      const connack = await conn.connectPacket({ clientId: `fzhealth-${Date.now()}`, username: this.health!.username, password: Buffer.from(this.health!.password) }, bound);
      if (connack.kind !== 'acked' || (connack.packet as any).returnCode !== 0) throw new Error(`health device CONNECT: ${JSON.stringify(connack)}`);
      // Tasmota announces itself with its LWT (retained), as the firmware does on connect.
      const online = await conn.publish('tele/fzhealth/LWT', Buffer.from('Online'), { qos: 1, retain: true }, bound);
      if (online.kind !== 'acked') throw new Error(`health LWT: ${JSON.stringify(online)}`);
      const payload = Buffer.from(JSON.stringify({ Time: new Date().toISOString().slice(0, 19), ENERGY: { Voltage: voltage } }));
      const ack = await conn.publish('tele/fzhealth/SENSOR', payload, { qos: 1, retain: false }, bound);
      if (ack.kind !== 'acked') throw new Error(`health reading: ${JSON.stringify(ack)}`);
    } finally {
      conn.close();
    }
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (await this.roomShowsVoltage(voltage)) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`the health reading (energy.voltage = ${voltage}) did not reach a device room within 20 s`);
  }

  async close(): Promise<void> {
    for (const device of this.devices) (await device.connection)?.close();
    this.http.close();
  }

  private verdict(outcome: MqttOutcome): Verdict {
    switch (outcome.kind) {
      case 'acked': {
        const p = outcome.packet as any;
        return { ok: true, label: p.cmd === 'connack' ? `connack ${p.returnCode}` : p.cmd === 'suback' ? `suback ${p.granted.join(',')}`.slice(0, 30) : p.cmd };
      }
      case 'closed':
        return { ok: true, label: 'closed by server' };
      case 'hang':
        return { ok: false, kind: 'hang', detail: `no acknowledgement and no close within ${outcome.elapsedMs} ms` };
      case 'connection-error':
        return outcome.message.startsWith('not sent') ? { ok: true, label: 'unsendable' } : { ok: false, kind: 'connection-error', detail: outcome.message };
    }
  }

  /** The device's long-lived connection, opened again after the server closed it. */
  private async connection(device: FuzzDevice): Promise<RawMqttConnection | undefined> {
    const current = await device.connection;
    if (current?.isOpen) return current;
    device.connection = (async () => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const conn = await RawMqttConnection.open(this.opts.host, this.opts.mqttPort, this.opts.hangBoundMs);
        const ack = await conn.connectPacket({ clientId: `${device.description.id}-fuzz`, username: device.credentials.username, password: Buffer.from(device.credentials.password) }, this.opts.hangBoundMs);
        if (ack.kind === 'acked' && (ack.packet as any).returnCode === 0) return conn;
        conn.close();
        // Refused (a CONNECT rate limit after many reconnects, say): wait and try again.
        await new Promise((r) => setTimeout(r, 250 * (attempt + 1)));
      }
      return undefined;
    })();
    return device.connection;
  }

  private async roomShowsVoltage(voltage: number): Promise<boolean> {
    const auth = { authorization: `Bearer ${this.opts.adminToken}` };
    const get = async (path: string) => {
      const res = await this.http.send({ method: 'GET', path, headers: auth }, 30_000, Infinity);
      if (res.kind !== 'answer') throw new Error(`admin GET ${path}: ${JSON.stringify(res)}`);
      return res;
    };
    // Invites from device rooms (an admin is invited to each) are accepted as they come.
    const sync = await get('/_matrix/client/v3/sync?timeout=0&filter=' + percentEncode(JSON.stringify({ room: { timeline: { limit: 0 } }, presence: { not_types: ['*'] } })));
    if (sync.status !== 200) throw new Error(`admin /sync: ${sync.status} ${sync.text.slice(0, 300)}`);
    for (const roomId of Object.keys(JSON.parse(sync.text).rooms?.invite ?? {})) {
      await this.http.send({ method: 'POST', path: `/_matrix/client/v3/join/${percentEncode(roomId)}`, headers: { ...auth, 'content-type': 'application/json' }, body: Buffer.from('{}') }, 30_000);
    }
    const joined = await get('/_matrix/client/v3/joined_rooms');
    for (const roomId of (JSON.parse(joined.text).joined_rooms ?? []) as string[]) {
      const state = await get(`/_matrix/client/v3/rooms/${percentEncode(roomId)}/state/org.hearth.sensor/energy.voltage`);
      // Numbers travel as decimal strings in events (canonical JSON has no floats).
      if (state.status === 200 && String(JSON.parse(state.text).value) === String(voltage)) return true;
    }
    return false;
  }

}
