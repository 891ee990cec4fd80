/**
 * External-broker mode: Hearth connects as a client to an existing broker (e.g. Mosquitto, which
 * also gives devices MQTT 5) instead of embedding one. Authentication and ACLs are then the
 * external broker's business; Hearth subscribes to the topics the bridge needs and hands every
 * message to the same inbound handler as the embedded broker.
 */
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { InboundHandler, InboundMessage, MqttTransport } from '../transport.js';
import { deliverInbound, type BrokerLogger } from './inbound.js';
import { isEnvelope, openEnvelope } from '../signing/envelope.js';
import { createBrokerStats, type BrokerStats } from './stats.js';

export interface ExternalBrokerOptions {
  /** `mqtt://host:port`, `mqtts://...` or `ws(s)://...`. */
  url: string;
  username?: string;
  password?: string;
  /** Stable, so the external broker keeps our session and queues QoS 1 messages while we are away. */
  clientId: string;
  /** Topic filters the bridge needs (default everything). */
  topics?: string[];
  /** Messages with larger payloads are acknowledged and dropped. */
  maxPayloadBytes: number;
  logger: BrokerLogger;
  /** Reconnect delay bounds: it doubles per failed attempt (with jitter) up to the maximum. */
  minReconnectMs?: number;
  maxReconnectMs?: number;
}

/** How long the external broker keeps our session while we are disconnected (MQTT 5 3.1.2.11.2). */
const SESSION_EXPIRY_SECONDS = 7 * 24 * 3600;

/** CONNACK codes meaning "this protocol version is not spoken here": 3.1.1 rc 1, MQTT 5 0x84. */
const UNSUPPORTED_PROTOCOL = new Set([1, 0x84]);

export class ExternalBroker implements MqttTransport {
  private client: MqttClient | undefined;
  private handler: InboundHandler | undefined;
  private readonly counters: BrokerStats = createBrokerStats();
  private readonly topics: string[];
  private readonly minReconnectMs: number;
  private readonly maxReconnectMs: number;
  /** MQTT 5 first; 4 (3.1.1) once the broker refused 5. */
  private protocolVersion: 4 | 5 = 5;

  constructor(private readonly opts: ExternalBrokerOptions) {
    this.topics = opts.topics ?? ['#'];
    this.minReconnectMs = opts.minReconnectMs ?? 1000;
    this.maxReconnectMs = opts.maxReconnectMs ?? 60_000;
  }

  setInboundHandler(handler: InboundHandler): void {
    this.handler = handler;
  }

  /** The protocol level in use: 5 (MQTT 5) or 4 (MQTT 3.1.1). */
  get protocol(): 4 | 5 {
    return this.protocolVersion;
  }

  stats(): BrokerStats {
    return { ...this.counters };
  }

  /**
   * Connects and subscribes. Resolves on the first CONNACK; rejects when the broker refuses us
   * (credentials, or both protocol versions); while the broker is unreachable it keeps retrying.
   * 1. connect with MQTT 5; on "unsupported protocol version" retry once with 3.1.1;
   * 2. subscribe to the bridge's topics at QoS 1 (MQTT 5: no-local, so our own commands do not
   *    come back), unless the broker still had our session;
   * 3. from then on reconnect with exponential backoff; mqtt.js resubscribes when a session was lost.
   */
  async start(): Promise<void> {
    let connack: { sessionPresent: boolean };
    try {
      connack = await this.connect(5);
    } catch (err) {
      if (!UNSUPPORTED_PROTOCOL.has((err as { code?: number }).code ?? -1)) throw err;
      connack = await this.connect(4);
    }
    if (!connack.sessionPresent) {
      const nl = this.protocolVersion === 5;
      await this.client!.subscribeAsync(Object.fromEntries(this.topics.map((topic) => [topic, { qos: 1 as const, nl }])));
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.endAsync();
  }

  async publish(topic: string, payload: Buffer | string, opts: { qos: 0 | 1; retain: boolean }): Promise<void> {
    if (!this.client) throw new Error('the external MQTT connection is not started');
    await this.client.publishAsync(topic, payload, { qos: opts.qos, retain: opts.retain });
  }

  private connect(protocolVersion: 4 | 5): Promise<{ sessionPresent: boolean }> {
    this.protocolVersion = protocolVersion;
    const { url, username, password, clientId } = this.opts;
    const options: IClientOptions = {
      protocolVersion,
      clientId,
      clean: false,
      reconnectPeriod: this.minReconnectMs,
      connectTimeout: 10_000,
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_SECONDS } } : {}),
    };
    const client = mqtt.connect(url, options);
    this.client = client;
    client.handleMessage = (packet, done) => this.handleMessage(packet, done);
    client.on('close', () => this.backOff(client));
    client.on('connect', () => {
      client.options.reconnectPeriod = this.minReconnectMs;
    });
    return new Promise((resolve, reject) => {
      const onConnect = (connack: { sessionPresent: boolean }): void => {
        client.off('error', onError);
        client.on('error', (err) => this.opts.logger.warn({ err: err.message }, 'external MQTT broker error'));
        resolve(connack);
      };
      const onError = (err: Error & { code?: unknown }): void => {
        // A CONNACK refusal carries a numeric code; network errors are retried by mqtt.js.
        if (typeof err.code !== 'number') return;
        client.off('connect', onConnect);
        client.end(true);
        reject(err);
      };
      client.once('connect', onConnect);
      client.on('error', onError);
    });
  }

  /** Doubles the next reconnect delay, with +-20% jitter so many gateways do not retry in step. */
  private backOff(client: MqttClient): void {
    const next = Math.min(this.maxReconnectMs, (client.options.reconnectPeriod ?? this.minReconnectMs) * 2);
    client.options.reconnectPeriod = Math.round(next * (0.8 + Math.random() * 0.4));
  }

  /**
   * mqtt.js calls this for every PUBLISH and sends the PUBACK only when `done` is called, so a
   * QoS 1 message is acknowledged after the bridge recorded it [MQTT-4.3.2-1]. mqtt.js handles
   * packets one at a time: the handler's latency bounds this connection's throughput.
   */
  private handleMessage(packet: IPublishPacket, done: (err?: Error) => void): void {
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    if (payload.length > this.opts.maxPayloadBytes) {
      this.counters.oversized++;
      done();
      return;
    }
    // A signed reading's envelope (docs/mqtt.md "Signed readings") is unwrapped unchecked: the
    // external broker authenticates, and Hearth cannot tell which device login sent it.
    const envelope = isEnvelope(payload) ? openEnvelope(payload) : undefined;
    if (envelope) this.counters.signatureUnchecked++;
    const message: InboundMessage = { topic: packet.topic, payload: envelope?.payload ?? payload, qos: packet.qos, retain: packet.retain, clientId: '' };
    const handled = deliverInbound(this.handler, message, this.counters, this.opts.logger);
    // A refusal is acknowledged too: the external broker has routed the message already.
    if (packet.qos === 0 || !(handled instanceof Promise)) {
      done();
      return;
    }
    void handled.then((outcome) => {
      if (outcome === 'handled') return done();
      // Not stored (storage failing): no PUBACK. The broker sends an unacknowledged message again
      // only on a new connection (MQTT 3.1.1 section 4.4; our session is kept, clean = false), and
      // stops sending at its in-flight limit meanwhile: drop the connection, as a network failure
      // would, and let the backoff reconnect.
      done(new Error('storage is failing: message not acknowledged'));
      this.client?.stream.destroy();
    });
  }

}
