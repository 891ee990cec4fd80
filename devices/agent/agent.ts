/**
 * The device agent: publishes a device's readings over MQTT (QoS 1) in one convention, keeps them
 * while the broker is unreachable, and replays them in order when it is back.
 *
 * Delivery path of a reading:
 * 1. Online and nothing queued on disk: it goes to an in-memory window (at most `maxInFlight`
 *    unacknowledged publishes), so a healthy device writes nothing to its flash.
 * 2. Offline, or while the disk queue still holds older readings: it is appended to the disk queue,
 *    so it can never overtake an older one.
 * 3. On disconnect, whatever sat in the in-memory window (published but not PUBACKed, or waiting)
 *    is appended to the disk queue, which is empty at that moment (see 1), so order holds.
 * 4. On (re)connect: subscribe to command topics, announce (discovery, online), then replay the
 *    disk queue oldest first; an entry leaves the queue only on its PUBACK [MQTT-4.3.2-4].
 *
 * A connection that drops ends its mqtt.js client; the next attempt is a fresh client with backoff.
 * Owning reconnection keeps mqtt.js from resending its own in-memory copies behind our backs.
 */
import { EventEmitter } from 'node:events';
import mqtt, { type MqttClient } from 'mqtt';
import type { Convention } from './conventions/index.js';
import type { DeviceCommand, DeviceDescription, OutboundMessage, Reading, SensorValues } from './device.js';
import { assertMqttSafeId } from './device.js';
import { OfflineQueue } from './offline-queue.js';
import type { MessageSigner } from './signing.js';

export interface DeviceAgentOptions {
  /** `mqtt://host:port` */
  brokerUrl: string;
  username?: string;
  password?: string;
  /** Defaults to the device id. */
  clientId?: string;
  device: DeviceDescription;
  convention: Convention;
  /** Directory of the durable offline queue. */
  queueDir: string;
  /** Readings kept while offline before the oldest are evicted. Default 50,000 (~14 h at 1 Hz). */
  maxQueuedReadings?: number;
  /** Unacknowledged publishes at once. Default 16. */
  maxInFlight?: number;
  /** Reconnect backoff bounds (ms), doubled per failed attempt with jitter. Default 500..30,000. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** How often the queue is fsync'ed while it changes (ms). Default 1,000. */
  queueSyncIntervalMs?: number;
  /** Extra messages sent after the convention's announcement on each connect (e.g. a Z2M bridge list). */
  extraAnnouncements?: OutboundMessage[];
  /**
   * Applies a command to the device's actuator and returns its new values (reported back as a
   * reading), or undefined when the command does not apply.
   */
  onCommand?: (command: DeviceCommand) => SensorValues | undefined;
  /**
   * Signs every message as it is sent (signing.ts, docs/mqtt.md "Signed readings"): the will and
   * the announcements offer the public key, for a gateway that trusts on first use.
   */
  signer?: MessageSigner;
}

export interface DeviceAgentStats {
  connected: boolean;
  /** Readings recorded since start. */
  recorded: number;
  /** Reading publishes acknowledged by the broker (each message of a reading counts once). */
  acknowledged: number;
  /** Readings currently waiting in the disk queue. */
  queued: number;
  /** Readings evicted because the queue was full (the disk queue's lifetime count plus this run's). */
  evicted: number;
  commands: number;
}

interface MemoryItem {
  reading: Reading;
}

export class DeviceAgent extends EventEmitter {
  private readonly options: Required<Omit<DeviceAgentOptions, 'username' | 'password' | 'onCommand' | 'signer'>> &
    Pick<DeviceAgentOptions, 'username' | 'password' | 'onCommand' | 'signer'>;
  private queue: OfflineQueue | undefined;
  private client: MqttClient | undefined;
  /** Bumped per connection; callbacks from an older connection are ignored. */
  private generation = 0;
  private online = false;
  private stopping = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private failedAttempts = 0;
  private lastTs = 0;
  /** In-memory path (1.): published and unacknowledged, in order; then waiting, in order. */
  private readonly memoryInFlight = new Set<MemoryItem>();
  private readonly memoryWaiting: MemoryItem[] = [];
  /** Disk replay (4.): id of the last entry handed to the broker on this connection. */
  private diskCursor = -1;
  private diskInFlight = 0;
  private readonly counters = { recorded: 0, acknowledged: 0, commands: 0 };
  private memoryEvicted = 0;

  constructor(options: DeviceAgentOptions) {
    super();
    assertMqttSafeId(options.device.id);
    this.options = {
      clientId: options.device.id,
      maxQueuedReadings: 50_000,
      maxInFlight: 16,
      reconnectMinMs: 500,
      reconnectMaxMs: 30_000,
      queueSyncIntervalMs: 1_000,
      extraAnnouncements: [],
      ...options,
    };
  }

  /** Opens the queue (recovering readings left by a previous run) and starts connecting. */
  start(): void {
    this.queue = OfflineQueue.open(this.options.queueDir, {
      maxEntries: this.options.maxQueuedReadings,
      syncIntervalMs: this.options.queueSyncIntervalMs,
    });
    this.connect();
  }

  /** Records a reading taken now (or at `ts`); it will be delivered, in order, when possible. */
  record(values: SensorValues, ts?: number): void {
    // Our own stamps never go backwards (wall clock steps), so replay order, which is always the
    // order of recording, is also timestamp order. A caller-supplied time is kept as given.
    const stamp = ts ?? Math.max(Date.now(), this.lastTs);
    this.lastTs = Math.max(stamp, this.lastTs);
    const reading: Reading = { ts: stamp, values };
    this.counters.recorded++;
    const queue = this.requireQueue();
    if (this.online && queue.length === 0) {
      this.memoryWaiting.push({ reading });
      this.trimMemory();
    } else {
      queue.append(reading);
    }
    this.pump();
  }

  stats(): DeviceAgentStats {
    const queue = this.requireQueue();
    return { connected: this.online, ...this.counters, queued: queue.length, evicted: queue.evicted + this.memoryEvicted };
  }

  /**
   * Resolves true once the agent is online with nothing queued or in flight, false if that has not
   * happened within `timeoutMs` (e.g. the broker is down).
   */
  async delivered(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.online && this.pendingCount() === 0 && this.requireQueue().length === 0) return true;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return false;
  }

  /**
   * Stops: says goodbye if connected (waiting up to `graceMs` for in-flight readings), keeps every
   * unacknowledged reading in the disk queue for the next run, and closes it.
   */
  async stop(graceMs = 2_000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.reconnectTimer);
    const client = this.client;
    if (client && this.online) {
      const deadline = Date.now() + graceMs;
      while (this.pendingCount() > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await this.publishAll(client, [this.options.convention.goodbye(this.options.device)], { offerKey: false }).catch(() => undefined);
    }
    const graceful = this.online;
    this.dropConnection();
    // A graceful DISCONNECT tells the broker not to publish the last will [MQTT-3.1.2-10].
    if (client) await client.endAsync(!graceful);
    this.queue?.close();
  }

  private connect(): void {
    const generation = ++this.generation;
    const { device, convention } = this.options;
    const will = this.sealed(convention.will(device), { offerKey: true });
    const client = mqtt.connect(this.options.brokerUrl, {
      clientId: this.options.clientId,
      username: this.options.username,
      password: this.options.password,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      // mqtt.js' default (writeCache: true) has mqtt-packet build a 2-byte Buffer for each of the
      // 65,536 packet ids at the first write: 6.3 MB of the agent's heap (a heap snapshot, issue 14),
      // for an agent with at most 16 publishes in flight. The gateway's broker turns it off too.
      writeCache: false,
      will: { topic: will.topic, payload: Buffer.from(will.payload), qos: 1, retain: will.retain },
    });
    this.client = client;
    client.on('connect', () => {
      if (generation === this.generation) this.onConnected(client, generation).catch((err: Error) => this.emit('warning', err));
    });
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    client.on('error', (err) => this.emit('warning', err));
    client.on('close', () => {
      if (generation !== this.generation) return;
      this.dropConnection();
      client.end(true);
      this.scheduleReconnect();
    });
  }

  private async onConnected(client: MqttClient, generation: number): Promise<void> {
    const { device, convention } = this.options;
    const commandTopics = convention.commandTopics(device);
    if (commandTopics.length > 0) await client.subscribeAsync(commandTopics, { qos: 1 });
    await this.publishAll(client, [...convention.announce(device), ...this.options.extraAnnouncements], { offerKey: true });
    if (generation !== this.generation) return;
    this.failedAttempts = 0;
    this.online = true;
    this.emit('online');
    this.pump();
  }

  /** Step 3: the connection is gone; everything not acknowledged goes to the disk queue, in order. */
  private dropConnection(): void {
    this.generation++;
    const wasOnline = this.online;
    this.online = false;
    const queue = this.queue;
    if (queue) {
      for (const item of [...this.memoryInFlight, ...this.memoryWaiting]) queue.append(item.reading);
    }
    this.memoryInFlight.clear();
    this.memoryWaiting.length = 0;
    this.diskCursor = -1;
    this.diskInFlight = 0;
    if (wasOnline && !this.stopping) this.emit('offline');
  }

  private scheduleReconnect(): void {
    if (this.stopping) return;
    const ceiling = Math.min(this.options.reconnectMaxMs, this.options.reconnectMinMs * 2 ** this.failedAttempts);
    this.failedAttempts++;
    // Full jitter above the floor, so a house full of devices does not reconnect in lockstep.
    const delay = this.options.reconnectMinMs + Math.random() * (ceiling - this.options.reconnectMinMs);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  /** Sends as much as the in-flight window allows: disk queue first (step 4), else memory (step 1). */
  private pump(): void {
    const client = this.client;
    const queue = this.queue;
    if (!this.online || !client || !queue) return;
    const generation = this.generation;
    const max = this.options.maxInFlight;
    if (queue.length > 0) {
      for (const entry of queue.after(this.diskCursor, max - this.diskInFlight)) {
        this.diskCursor = entry.id;
        this.diskInFlight++;
        this.publishReading(client, entry.reading, generation, () => {
          this.diskInFlight--;
          queue.ack(entry.id);
        });
      }
      return;
    }
    while (this.memoryInFlight.size < max && this.memoryWaiting.length > 0) {
      const item = this.memoryWaiting.shift()!;
      this.memoryInFlight.add(item);
      this.publishReading(client, item.reading, generation, () => this.memoryInFlight.delete(item));
    }
  }

  /** Publishes every message of a reading; `onAcked` runs once all are PUBACKed on this connection. */
  private publishReading(client: MqttClient, reading: Reading, generation: number, onAcked: () => void): void {
    const messages = this.options.convention.encodeReading(this.options.device, reading);
    this.publishAll(client, messages, { offerKey: false }).then(
      () => {
        if (generation !== this.generation) return;
        this.counters.acknowledged++;
        onAcked();
        this.pump();
      },
      () => undefined, // the connection dropped: dropConnection() has already requeued it
    );
  }

  /** Publishes messages, each sealed now (a fresh counter even for a reading replayed from the queue). */
  private async publishAll(client: MqttClient, messages: OutboundMessage[], seal: { offerKey: boolean }): Promise<void> {
    await Promise.all(
      messages.map((m) => {
        const sealed = this.sealed(m, seal);
        return client.publishAsync(sealed.topic, sealed.payload, { qos: 1, retain: sealed.retain });
      }),
    );
  }

  private sealed(message: OutboundMessage, opts: { offerKey: boolean }): OutboundMessage {
    return this.options.signer ? this.options.signer.seal(message, opts) : message;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const { device, convention, onCommand } = this.options;
    for (const command of convention.decodeCommand(device, topic, payload)) {
      this.counters.commands++;
      this.emit('command', command);
      const newValues = onCommand?.(command);
      if (newValues) this.record(newValues);
    }
  }

  /** Bounds the in-memory path like the disk queue: oldest waiting readings go first. */
  private trimMemory(): void {
    while (this.memoryWaiting.length > this.options.maxQueuedReadings) {
      this.memoryWaiting.shift();
      this.memoryEvicted++;
    }
  }

  /** Readings on the in-memory path plus disk entries handed to the broker, not yet acknowledged. */
  private pendingCount(): number {
    return this.memoryInFlight.size + this.memoryWaiting.length + this.diskInFlight;
  }

  private requireQueue(): OfflineQueue {
    if (!this.queue) throw new Error('DeviceAgent.start() has not been called');
    return this.queue;
  }
}
