/**
 * The embedded MQTT broker: aedes 1.2 (MQTT 3.1/3.1.1) in-process, on `mqtt.bind_address:port`
 * and over WebSocket on the client HTTP port. Devices authenticate with registry credentials or a
 * Matrix access token, the ACL policy decides topics, and every accepted publish goes to the
 * bridge's inbound handler before it is acknowledged.
 */
import { createServer, Socket as NetSocket, type Server } from 'node:net';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { Aedes, type Client, type PublishPacket, type Subscription } from 'aedes';
import mqttPacket from 'mqtt-packet';
import type { HearthConfig } from '../../config/config.js';
import type { Database } from '../../storage/db.js';
import type { InboundHandler, InboundMessage, MqttTransport } from '../transport.js';
import type { AclPolicy } from '../identity/acl.js';
import { RESERVED_TOPIC_PREFIX } from '../identity/acl.js';
import type { Authenticator } from '../identity/authenticate.js';
import type { MqttIdentity } from '../identity/identity.js';
import { LevelMirroredPersistence } from './persistence.js';
import { ClientIdOwnership, CONNACK_IDENTIFIER_REJECTED, principalOf } from '../identity/client-ids.js';
import { MqttWebSocketEndpoint } from './websocket.js';
import { createBrokerStats, type BrokerStats } from './stats.js';
import { deliverInbound, type BrokerLogger } from './inbound.js';
import { guardPacketSize } from './packet-size-guard.js';
import { strictStrings } from './utf8-strings.js';
import type { ConnectRateLimits } from '../../limits/client-limits.js';
import type { ReadingVerifier, SignatureRefusal } from '../signing/verifier.js';


export interface EmbeddedBrokerDeps {
  mqtt: HearthConfig['mqtt'];
  db: Database;
  authenticate: Authenticator;
  acl: AclPolicy;
  logger: BrokerLogger;
  /**
   * Whether Matrix user `userId` may publish `topic` as a command (a device's announced command
   * topic, with the power the device's room requires for commands): the bridge answers. Absent:
   * users publish only what the ACL allows.
   */
  authorizeUserCommand?: (userId: string, topic: string) => Promise<boolean>;
  /** Write-behind window for retained messages and offline queues (default 1000 ms). */
  persistFlushMs?: number;
  /** Wrong credentials per address and username (rc_mqtt_connect); absent: unlimited. */
  connectLimits?: ConnectRateLimits;
  /** Counts a new TCP connection against the gateway's cap (limits/connections.ts); false: it was closed. */
  admitConnection?: (socket: NetSocket) => boolean;
  /** Checks and unwraps devices' signed messages (docs/mqtt.md "Signed readings"); absent: none are. */
  signatures?: ReadingVerifier;
}

// mqtt-packet (aedes' encoder) otherwise pre-builds a 2-byte Buffer for each of the 65,536 packet ids
// the first time it writes one: 65,538 Buffer objects, ~6 MB of a ~30 MB heap in a gateway heap
// snapshot. Writing the two bytes per packet instead costs one small allocation per PUBACK.
mqttPacket.writeToStream.cacheNumbers = false;

/** Where refused publishes go: a topic nobody may subscribe to (see authorizePublish). */
const REFUSED_TOPIC = `${RESERVED_TOPIC_PREFIX}refused`;

/** aedes limits: deep topics cost trie memory; Home Assistant's deepest topics have 5 levels. */
const MAX_TOPIC_LEVELS = 16;
/** A client that does not read for this long is disconnected rather than buffered without end. */
const DRAIN_TIMEOUT_MS = 30_000;
/** Parallel deliveries per topic emission (mqemitter); bounds memory under fan-out bursts. */
const CONCURRENCY = 100;
/** MQTT client ids up to 64 characters (the spec's 23 is a floor; real devices use longer ids). */
const MAX_CLIENT_ID_LENGTH = 64;

/** QoS 0 messages one client may have with the bridge before its socket is read no further. */
const MAX_QOS0_IN_FLIGHT = 256;

export class EmbeddedBroker implements MqttTransport {
  private aedes: Aedes | undefined;
  private server: Server | undefined;
  private persistence: LevelMirroredPersistence | undefined;
  private readonly sockets = new Set<NetSocket>();
  private readonly websocket: MqttWebSocketEndpoint;
  private readonly identities = new WeakMap<Client, MqttIdentity>();
  /** Each client's login as one string (`principalOf`), built once per connection, not per PUBLISH. */
  private readonly principals = new WeakMap<Client, string>();
  /** QoS 0 messages of each client still with the bridge (they have no PUBACK to wait for). */
  private readonly qos0InFlight = new WeakMap<Client, number>();
  /** Registered (authenticated) clients, for `disconnectDevice`. */
  private readonly connected = new Set<Client>();
  private readonly counters: BrokerStats = createBrokerStats();
  /** Logins whose retained refusal was logged (one line until they retain again). */
  private readonly retainedRefusalLogged = new Set<string>();
  /** `<device> <reason>` of signature refusals logged (one line until the device's messages pass again). */
  private readonly signatureRefusalLogged = new Set<string>();
  private handler: InboundHandler | undefined;
  private owners: ClientIdOwnership | undefined;

  constructor(private readonly deps: EmbeddedBrokerDeps) {
    // A WebSocket message carries at most one whole control packet of the largest allowed size,
    // plus a topic and headers (fixed header, topic length, packet id).
    this.websocket = new MqttWebSocketEndpoint((stream, req) => this.handleConnection(stream, req), this.maxPacketBytes);
  }

  setInboundHandler(handler: InboundHandler): void {
    this.handler = handler;
  }

  /** The TCP port actually bound (useful when the configured port is 0). */
  get port(): number {
    const address = this.server?.address();
    if (!address || typeof address === 'string') throw new Error('the embedded MQTT broker is not listening');
    return address.port;
  }

  stats(): BrokerStats {
    return { ...this.counters };
  }

  /** MQTT clients connected now (TCP and WebSocket). */
  get clientCount(): number {
    return this.connected.size;
  }

  async start(): Promise<void> {
    const { mqtt, db, logger } = this.deps;
    this.owners = await ClientIdOwnership.open(db);
    this.persistence = new LevelMirroredPersistence({
      db,
      offlineQueueLimit: mqtt.offlineQueueLimit,
      offlineQueueBytes: mqtt.offlineQueueBytes,
      offlineQueueTotalBytes: mqtt.offlineQueueTotalBytes,
      retained: mqtt.retained,
      onRetainedTrimmed: (count) => logger.warn({ count, limits: mqtt.retained }, 'retained messages beyond mqtt.retained deleted at start'),
      flushIntervalMs: this.deps.persistFlushMs ?? 1000,
      onOfflineDrop: () => void this.counters.offlineDropped++,
      onError: (err) => logger.warn({ err }, 'mqtt persistence write failed'),
    });
    this.aedes = await Aedes.createBroker({
      persistence: this.persistence,
      drainTimeout: DRAIN_TIMEOUT_MS,
      maxTopicLevels: MAX_TOPIC_LEVELS,
      concurrency: CONCURRENCY,
      maxClientsIdLength: MAX_CLIENT_ID_LENGTH,
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => this.authorizeSubscribe(client, sub, done),
    });
    this.aedes.on('client', (client) => this.connected.add(client));
    this.aedes.on('clientDisconnect', (client) => this.connected.delete(client));
    // Protocol errors end the one connection; they are expected from the network, never fatal.
    this.aedes.on('clientError', (client, err) => logger.warn({ clientId: client.id, err: err.message }, 'mqtt client error'));
    this.aedes.on('connectionError', (_client, err) => logger.warn({ err: err.message }, 'mqtt connection error'));

    const server = createServer((socket) => this.handleConnection(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(mqtt.port, mqtt.bindAddress, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** Stops accepting, closes every client, and writes the buffered persistence. */
  async stop(): Promise<void> {
    this.websocket.close();
    const server = this.server;
    this.server = undefined;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of this.sockets) socket.destroy();
      await closed;
    }
    const aedes = this.aedes;
    this.aedes = undefined;
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await this.persistence?.flush();
    await this.deps.signatures?.flush();
  }

  /** Publishes from the gateway (commands to devices); bypasses the ACL, never retained by callers. */
  publish(topic: string, payload: Buffer | string, opts: { qos: 0 | 1; retain: boolean }): Promise<void> {
    const aedes = this.aedes;
    if (!aedes) return Promise.reject(new Error('the embedded MQTT broker is not running'));
    const packet = {
      cmd: 'publish',
      topic,
      payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
      qos: opts.qos,
      retain: opts.retain,
      dup: false,
    } as PublishPacket;
    return new Promise((resolve, reject) => aedes.publish(packet, (err) => (err ? reject(err) : resolve())));
  }

  /**
   * Closes the connections authenticated as device `name` (call after `device remove`: removed
   * credentials stop working at the next CONNECT, this ends the current ones). Returns how many.
   */
  disconnectDevice(name: string): number {
    let closed = 0;
    for (const client of this.connected) {
      const identity = this.identities.get(client);
      if (identity?.kind === 'device' && identity.deviceName === name) {
        client.close();
        closed++;
      }
    }
    this.owners?.releaseDevice(name).catch((err: unknown) => this.deps.logger.warn({ err, device: name }, 'releasing client ids failed'));
    this.deps.signatures?.forget(name);
    return closed;
  }

  /** Completes an HTTP upgrade for MQTT over WebSocket (for servers that route upgrades themselves). */
  handleWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.websocket.handleUpgrade(req, socket, head);
  }

  /** Serves MQTT over WebSocket on `path` of an HTTP server (e.g. fastify's `.server`). */
  attachWebSocket(httpServer: HttpServer, path = this.deps.mqtt.websocketPath): () => void {
    return this.websocket.attach(httpServer, path);
  }

  private handleConnection(stream: Duplex, req?: IncomingMessage): void {
    const aedes = this.aedes;
    if (!aedes) {
      stream.destroy();
      return;
    }
    // WebSocket connections were counted by the HTTP server they came through.
    if (stream instanceof NetSocket && this.deps.admitConnection && !this.deps.admitConnection(stream)) return;
    const client = aedes.handle(stream, req) as Client & { _parser: unknown };
    // NUL or ill-formed UTF-8 in a topic, client id or user name closes the connection [MQTT-1.5.3-1/2].
    strictStrings(client._parser, (violation) => {
      this.counters.invalidStrings++;
      this.deps.logger.warn({ remoteAddress: (stream as NetSocket).remoteAddress ?? req?.socket.remoteAddress, violation }, 'mqtt packet with an invalid string refused');
    });
    if (stream instanceof NetSocket) {
      this.sockets.add(stream);
      stream.once('close', () => this.sockets.delete(stream));
      // WebSocket frames have their own limit (ws `maxPayload`); a TCP packet is refused from its header.
      guardPacketSize(stream, this.maxPacketBytes, (declared) => {
        this.counters.oversized++;
        this.deps.logger.warn({ remoteAddress: stream.remoteAddress, declared, limit: this.maxPacketBytes }, 'mqtt packet over the size limit refused from its header');
      });
    }
  }

  /** The largest remaining length a packet may declare: the payload limit plus a topic (64 KB) and a packet id. */
  private get maxPacketBytes(): number {
    return this.deps.mqtt.maxPayloadBytes + 65_536 + 8;
  }

  // ---- hooks, one per aedes handler ----

  /**
   * CONNECT [MQTT-3.1.4-1]: refused credentials get CONNACK 4 or 5, a client id held by another
   * identity CONNACK 2 (identity/client-ids.ts), and the connection closes.
   */
  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (err: (Error & { returnCode: number }) | null, ok: boolean | null) => void,
  ): void {
    const refuse = (message: string, returnCode: number) => done(Object.assign(new Error(message), { returnCode }), null);
    this.admit(client, username, password).then(
      (outcome) => {
        if (outcome === 'ok') done(null, true);
        else if (outcome === 'client-id') refuse('client identifier in use by another identity', CONNACK_IDENTIFIER_REJECTED);
        else refuse('authentication failed', outcome);
      },
      (err: unknown) => {
        this.deps.logger.warn({ err }, 'mqtt authentication failed unexpectedly');
        // 3: "Server unavailable" (MQTT 3.1.1 table 3.1): the device retries later.
        refuse('authentication unavailable', 3);
      },
    );
  }

  private async admit(client: Client, username: string | undefined, password: Buffer | undefined): Promise<'ok' | 'client-id' | number> {
    // Over rc_mqtt_connect: refused before the (scrypt) check with 3, "Server unavailable": retry later.
    const address = remoteAddressOf(client);
    if ((this.deps.connectLimits?.retryAfterMs(address, username) ?? 0) > 0) {
      this.counters.authFailures++;
      return 3;
    }
    const result = await this.deps.authenticate(username, password);
    if (!result.ok) {
      this.counters.authFailures++;
      this.deps.connectLimits?.failed(address, username);
      return result.returnCode;
    }
    if (!(await this.owners!.connect(client.id, result.identity, client.clean, client))) {
      this.counters.clientIdRefused++;
      this.deps.logger.warn({ clientId: client.id, username }, 'mqtt client id belongs to another identity');
      return 'client-id';
    }
    client.conn.once('close', () => this.owners?.disconnected(client.id, client));
    this.identities.set(client, result.identity);
    this.principals.set(client, principalOf(result.identity));
    return 'ok';
  }

  /**
   * The inbound path of one PUBLISH, as named steps:
   * 1. size: payloads over `max_payload_bytes` close the connection (MQTT 3.1.1 cannot say why;
   *    [MQTT-3.3.5-2] allows closing instead of acknowledging) and are counted;
   * 2. ACL: refused topics are acknowledged per QoS but dropped (`refusePublish`); a Matrix user's
   *    command is allowed by the device room's power levels (`authorizeUserCommand`);
   * 3. hand to the bridge, and call back only when its promise settled; a message the bridge
   *    refuses outright (a device speaking for another login's device) is dropped like in step 2;
   * 4. QoS 0 is not held back (see below).
   *
   * Why this hook: aedes (lib/handlers/publish.js) runs `authorizePublish` and only then
   * `enqueuePublish`, which writes the PUBACK for QoS 1 (and stores/PUBRECs QoS 2) before
   * `broker.publish`; the `published` hook and persistence run after the PUBACK. So awaiting the
   * handler here is the one place where "PUBACK after the reading is in LevelDB" [MQTT-4.3.2-1]
   * holds. Packets of one socket read are handled concurrently and the next read waits for all of
   * them, so a slow handler back-pressures the client instead of buffering without bound.
   * QoS 0 has no acknowledgement: it is handed over without waiting, up to
   * `MAX_QOS0_IN_FLIGHT` per client; beyond that the packet is held like a QoS 1 one, so a QoS 0
   * flood back-pressures its own socket instead of queueing readings in memory without bound.
   */
  private authorizePublish(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    if (packet.payload.length > this.deps.mqtt.maxPayloadBytes) {
      this.counters.oversized++;
      done(new Error(`payload of ${packet.payload.length} bytes exceeds ${this.deps.mqtt.maxPayloadBytes}`));
      return;
    }
    // `client` is null for a will published after the connection's broker is gone: no identity.
    const identity = client ? this.identities.get(client) : undefined;
    if (!client || !identity) return this.refusePublish(packet, done);
    if (this.deps.acl.canPublish(identity, packet.topic)) return this.acceptPublish(client, identity, packet, done);
    // A Matrix user may command a device over MQTT only where the device's room lets them
    // (docs/mqtt.md "ACL"); the answer needs the room's power levels, hence a promise.
    const authorizeCommand = this.deps.authorizeUserCommand;
    if (identity.kind !== 'user' || !authorizeCommand || packet.topic.startsWith('$')) return this.refusePublish(packet, done);
    authorizeCommand(identity.userId, packet.topic).then(
      (allowed) => {
        if (!allowed) return this.refusePublish(packet, done);
        // A retained command would replay at every reconnect [MQTT-3.3.1-5] ("ghost switching").
        packet.retain = false;
        this.acceptPublish(client, identity, packet, done);
      },
      (err: unknown) => {
        this.deps.logger.warn({ err, topic: packet.topic }, 'mqtt command authorization failed');
        this.refusePublish(packet, done);
      },
    );
  }

  /**
   * Acknowledged per its QoS but dropped [MQTT-3.3.5-2]: aedes has no "drop" answer here, so the
   * packet is re-addressed to `$hearth/refused`, which no client may subscribe to, and its retain
   * flag cleared so nothing is stored.
   */
  private refusePublish(packet: PublishPacket, done: (err?: Error | null) => void, counted = false): void {
    if (!counted) this.counters.refusedPublishes++;
    packet.topic = REFUSED_TOPIC;
    packet.retain = false;
    done(null);
  }

  /** Hands an allowed PUBLISH to the bridge (steps 3 and 4 of `authorizePublish`). */
  private acceptPublish(client: Client, identity: MqttIdentity, packet: PublishPacket, done: (err?: Error | null) => void): void {
    // "PUBACK means stored" [MQTT-4.3.2-1]: while storage is failing a device's reading cannot be
    // stored, and MQTT 3.1.1 has no negative acknowledgement, so the connection is closed without
    // one: the client keeps the message and sends it again after reconnecting (mqtt.js, our
    // device agent, Tasmota all do). Checked before the bridge sees it, so that it is not half
    // taken in (folded into a sensor's history in memory) and then counted twice when resent, and
    // before its signature counter is spent, so that the resent packet passes.
    if (packet.qos > 0 && identity.kind === 'device' && this.deps.db.health.current) {
      this.counters.storageRefused++;
      done(new Error('storage is failing: publish not acknowledged'));
      return;
    }
    // Signed readings: checked, and the envelope replaced by the payload it carries, before the
    // message is routed, retained or bridged.
    let signedCounter: number | undefined;
    if (identity.kind === 'device' && this.deps.signatures) {
      const device = identity.deviceName;
      const will = (client as Client & { will?: unknown }).will === packet;
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      const verdict = this.deps.signatures.check({ device, topic: packet.topic, retain: packet.retain }, payload, { will });
      if (!verdict.ok) return this.refuseSignature(device, packet, verdict.reason, done);
      if (verdict.payload) packet.payload = verdict.payload;
      if (verdict.learnedKey) this.deps.logger.warn({ device }, 'mqtt device key learnt on first use: its messages must be signed from now on');
      if (verdict.verified) this.clearSignatureLog(device);
      else if (verdict.payload) this.counters.signatureUnchecked++;
      signedCounter = verdict.counter;
    }
    const message: InboundMessage = {
      topic: packet.topic,
      payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
      qos: packet.qos,
      retain: packet.retain,
      clientId: client.id,
      publisher: this.principals.get(client) ?? principalOf(identity),
    };
    if (identity.kind === 'device') message.deviceName = identity.deviceName;
    const handled = deliverInbound(this.handler, message, this.counters, this.deps.logger);
    // The bridge refused it outright (a device speaking for a device another login owns).
    if (!(handled instanceof Promise)) return this.refusePublish(packet, done, true);
    if (packet.retain) this.admitRetained(message.publisher!, packet);
    if (packet.qos === 0) {
      const inFlight = this.qos0InFlight.get(client) ?? 0;
      this.qos0InFlight.set(client, inFlight + 1);
      void handled.then(() => this.qos0InFlight.set(client, (this.qos0InFlight.get(client) ?? 1) - 1));
      if (inFlight < MAX_QOS0_IN_FLIGHT) {
        done(null);
        return;
      }
    }
    // A fault that began while this message was on its way (the write failed): no PUBACK either,
    // and the resent packet's counter may pass once more.
    void handled.then((outcome) => {
      const unacknowledged = outcome === 'storage-failing' && packet.qos > 0;
      if (unacknowledged && signedCounter !== undefined && message.deviceName) this.deps.signatures?.release(message.deviceName, signedCounter);
      done(unacknowledged ? new Error('storage is failing: publish not acknowledged') : null);
    });
  }

  /**
   * A device that must sign sent a message unsigned, forged (bad envelope or signature) or
   * replayed (counter not above the last): acknowledged per its QoS and dropped, like an ACL
   * refusal [MQTT-3.3.5-2], never routed, retained or bridged. Not closing the connection, as the
   * storage-fault path does: that path withholds the PUBACK because the same packet sent again
   * later can be stored; a refused signature is refused again every time, so withholding it would
   * only make the device resend it forever, and an agent that delivers in order would never get
   * past it. The PUBACK of a refused message promises nothing was lost that could have been kept.
   */
  private refuseSignature(device: string, packet: PublishPacket, reason: SignatureRefusal, done: (err?: Error | null) => void): void {
    this.counters[SIGNATURE_COUNTERS[reason]]++;
    const logKey = `${device} ${reason}`;
    if (!this.signatureRefusalLogged.has(logKey)) {
      if (this.signatureRefusalLogged.size >= 1024) this.signatureRefusalLogged.clear();
      this.signatureRefusalLogged.add(logKey);
      this.deps.logger.warn({ device, topic: packet.topic, reason }, `mqtt message of a signing device refused: ${SIGNATURE_REASONS[reason]}`);
    }
    this.refusePublish(packet, done, true);
  }

  private clearSignatureLog(device: string): void {
    if (this.signatureRefusalLogged.size === 0) return;
    for (const reason of Object.keys(SIGNATURE_COUNTERS)) this.signatureRefusalLogged.delete(`${device} ${reason}`);
  }

  /**
   * Beyond the `mqtt.retained` caps a message is delivered and acknowledged but not retained
   * (retained-store.ts); logged once per login until it retains again.
   */
  private admitRetained(publisher: string, packet: PublishPacket): void {
    const admission = this.persistence!.retained.admit(publisher, packet.topic, packet.payload.length, packet.qos);
    if (admission.ok) {
      this.retainedRefusalLogged.delete(publisher);
      return;
    }
    packet.retain = false;
    this.counters.retainedRefused++;
    if (this.retainedRefusalLogged.has(publisher)) return;
    if (this.retainedRefusalLogged.size >= 1024) this.retainedRefusalLogged.clear();
    this.retainedRefusalLogged.add(publisher);
    this.deps.logger.warn({ publisher, topic: packet.topic, limit: admission.reason }, 'retained message over the limit: delivered, not retained');
  }

  /** Retained messages kept: count and bytes, in total and of one login (`principalOf`). */
  retainedUsage(publisher?: string): { count: number; bytes: number } {
    const retained = this.persistence?.retained;
    if (!retained) return { count: 0, bytes: 0 };
    return publisher === undefined ? { count: retained.size, bytes: retained.bytes } : retained.usageOf(publisher);
  }

  /** SUBSCRIBE: a refused filter gets return code 0x80 in the SUBACK [MQTT-3.9.3-2]. */
  private authorizeSubscribe(
    client: Client,
    sub: Subscription,
    done: (err: Error | null, sub?: Subscription | null) => void,
  ): void {
    const identity = this.identities.get(client);
    if (identity && this.deps.acl.canSubscribe(identity, sub.topic)) {
      done(null, sub);
      return;
    }
    this.counters.refusedSubscriptions++;
    done(null, null);
  }
}

const SIGNATURE_COUNTERS: Record<SignatureRefusal, 'unsignedRefused' | 'forgedRefused' | 'replayedRefused'> = {
  unsigned: 'unsignedRefused',
  forged: 'forgedRefused',
  replayed: 'replayedRefused',
};

const SIGNATURE_REASONS: Record<SignatureRefusal, string> = {
  unsigned: 'not signed',
  forged: 'bad signature or envelope',
  replayed: 'counter not above the last accepted (a replay)',
};

/** The client's address: the TCP socket's, or for MQTT over WebSocket the upgrade request's. */
function remoteAddressOf(client: Client): string | undefined {
  const conn = client.conn as { remoteAddress?: string } | undefined;
  return conn?.remoteAddress ?? (client.req as IncomingMessage | undefined)?.socket?.remoteAddress;
}
