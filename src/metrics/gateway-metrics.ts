/**
 * The gateway's Prometheus metrics (docs/metrics.md), on prom-client. Two kinds:
 * - counted where they happen, because nothing counts them yet: HTTP requests (one fastify hook)
 *   and persisted events (one engine listener), a counter increment each;
 * - read at scrape time from counters the services already keep (the bridge's and the broker's
 *   stats, the sync service's wake-ups, the federation queues' status, the telemetry journal) or
 *   from the disk (LevelDB's size): the hot paths (a reading's PUBACK, a message's send) pay
 *   nothing for them.
 * prom-client's process metrics (RSS, heap, event-loop lag) start at the first scrape: a gateway
 * nobody scrapes does not sample its event loop.
 *
 * Label values are bounded by construction: routes are fastify's route patterns (never the URL a
 * client sent), methods are the known ones, destinations are the servers we share rooms with.
 */
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { serverNameOf } from '../core/identifiers.js';
import type { StoredEvent } from '../rooms/engine.js';
import type { BrokerStats } from '../mqtt/broker/stats.js';
import type { BridgeStats } from '../mqtt/bridge/bridge.js';
import type { DestinationStatus } from '../federation/send/sender.js';
import { DirectorySize } from './directory-size.js';

export const METRIC_PREFIX = 'hearth_';

/** Request latency buckets (seconds): a Pi answers most requests in milliseconds; /sync long-polls wait up to minutes. */
const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
/** Methods kept as label values; anything else (WebDAV verbs node accepts) is `other`. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']);
/** The route label of requests no route matched (404s, probes for `/wp-admin`). */
export const UNMATCHED_ROUTE = 'unmatched';
/** LevelDB's size is measured at most this often (a directory walk). */
const STORAGE_SIZE_MAX_AGE_MS = 60_000;

/** Reasons the broker refused or dropped something, each read from its `BrokerStats` counter. */
const MQTT_REFUSALS: Record<string, keyof BrokerStats> = {
  acl_publish: 'refusedPublishes',
  acl_subscribe: 'refusedSubscriptions',
  oversized: 'oversized',
  malformed: 'malformed',
  auth: 'authFailures',
  client_id: 'clientIdRefused',
  offline_queue_full: 'offlineDropped',
  invalid_string: 'invalidStrings',
  retained_cap: 'retainedRefused',
  storage_failing: 'storageRefused',
  unsigned: 'unsignedRefused',
  forged_signature: 'forgedRefused',
  replayed_signature: 'replayedRefused',
};

/** What the scrape reads from the running services (assembled in app/gateway.ts). */
export interface MetricSources {
  /** The LevelDB directory. */
  storageDir: string;
  sync: { readonly stats: { readonly wakeups: number; readonly parked: number } };
  mqtt: {
    stats(): BrokerStats;
    /** Connected clients; absent in external-broker mode (that broker knows them, not us). */
    clientCount?: () => number;
  };
  bridge: { readonly stats: BridgeStats; readonly pendingRoomWork: number };
  telemetry: { readonly journalBytesWritten: number };
  /** Thumbnails (media/thumbnailer.ts): the job queue and what was made or refused. */
  thumbnails?: {
    readonly depth: { running: number; waiting: number };
    readonly stats: { readonly made: number; readonly refused: { readonly busy: number; readonly tooLarge: number; readonly unusable: number } };
  };
  federation: {
    destinations(): DestinationStatus[];
    /** The settled stream position: a destination's queue position behind it is its lag. */
    streamHead(): number;
  };
}

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  private readonly httpDuration: Histogram<'route' | 'method'>;
  private readonly eventsPersisted: Counter<'origin'>;
  private processMetricsStarted = false;

  constructor() {
    const registers = [this.registry];
    this.httpRequests = new Counter({
      name: `${METRIC_PREFIX}http_requests_total`,
      help: 'Client-Server HTTP requests answered, by route pattern, method and status code.',
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: `${METRIC_PREFIX}http_request_duration_seconds`,
      help: 'Time from receiving a Client-Server request to its response, by route pattern and method (/sync includes its long-poll).',
      labelNames: ['route', 'method'],
      buckets: HTTP_DURATION_BUCKETS,
      registers,
    });
    this.eventsPersisted = new Counter({
      name: `${METRIC_PREFIX}events_persisted_total`,
      help: 'Room events persisted: sent by local users (local) or received from other servers (remote).',
      labelNames: ['origin'],
      registers,
    });
  }

  /** Counts every response of `app` (call right after creating it, before routes are added). */
  instrument(app: FastifyInstance): void {
    app.addHook('onResponse', (req, reply, done) => {
      const route = req.routeOptions.url ?? UNMATCHED_ROUTE;
      const method = KNOWN_METHODS.has(req.method) ? req.method : 'other';
      this.httpRequests.inc({ route, method, status: String(reply.statusCode) });
      this.httpDuration.observe({ route, method }, reply.elapsedTime / 1000);
      done();
    });
  }

  /** Counts persisted events by origin; returns the unsubscribe function. */
  countEvents(onEvent: (listener: (event: StoredEvent) => void) => () => void, serverName: string): () => void {
    const local = this.eventsPersisted.labels('local');
    const remote = this.eventsPersisted.labels('remote');
    // Both series exist from the start: a rate over a series that appears later misses its first count.
    local.inc(0);
    remote.inc(0);
    return onEvent((event) => (serverNameOf(event.pdu.sender) === serverName ? local : remote).inc());
  }

  /** Registers the series read at scrape time from the running services. */
  watch(sources: MetricSources): void {
    const registers = [this.registry];
    const counterOf = (name: string, help: string, read: () => number) =>
      new Counter({
        name: METRIC_PREFIX + name,
        help,
        registers,
        collect() {
          // The source counts since start, as a Prometheus counter does: copy it.
          this.reset();
          this.inc(read());
        },
      });
    const gaugeOf = (name: string, help: string, read: () => number) =>
      new Gauge({
        name: METRIC_PREFIX + name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });

    counterOf('sync_wakeups_total', 'Parked /sync long-polls woken by a new event or change (rather than by their timeout).', () => sources.sync.stats.wakeups);
    gaugeOf('sync_long_polls', 'Parked /sync long-polls waiting for a change now.', () => sources.sync.stats.parked);

    const { mqtt, bridge } = sources;
    if (mqtt.clientCount) gaugeOf('mqtt_clients', 'MQTT clients connected to the embedded broker (TCP and WebSocket).', mqtt.clientCount);
    counterOf('mqtt_messages_total', 'MQTT messages that reached the bridge from devices.', () => bridge.stats.messages);
    counterOf('sensor_readings_total', 'Sensor readings recorded in the history (telemetry).', () => bridge.stats.readings);
    new Counter({
      name: `${METRIC_PREFIX}mqtt_refused_total`,
      help: 'MQTT packets and connections the broker refused or dropped, by reason.',
      labelNames: ['reason'],
      registers,
      collect() {
        const stats = mqtt.stats();
        this.reset();
        for (const [reason, key] of Object.entries(MQTT_REFUSALS)) this.inc({ reason }, stats[key]);
      },
    });
    gaugeOf(
      'bridge_pending_room_work',
      'Devices whose room updates (state events) wait behind readings already acknowledged: the bridge\'s lag behind MQTT.',
      () => bridge.pendingRoomWork,
    );
    counterOf('bridge_failures_total', 'Bridge work for a device that failed (room creation or a state event).', () => bridge.stats.failures);
    counterOf('telemetry_bytes_written_total', 'Bytes appended to the telemetry journal (readings between checkpoints).', () => sources.telemetry.journalBytesWritten);

    const storage = new DirectorySize(sources.storageDir, STORAGE_SIZE_MAX_AGE_MS);
    new Gauge({
      name: `${METRIC_PREFIX}storage_bytes`,
      help: `Bytes of the LevelDB directory on disk (measured at most every ${STORAGE_SIZE_MAX_AGE_MS / 1000} s).`,
      registers,
      async collect() {
        this.set(await storage.current());
      },
    });

    this.watchFederation(sources.federation);
    if (sources.thumbnails) this.watchThumbnails(sources.thumbnails);
  }

  private watchThumbnails(thumbnails: NonNullable<MetricSources['thumbnails']>): void {
    const registers = [this.registry];
    new Counter({
      name: `${METRIC_PREFIX}thumbnails_made_total`,
      help: 'Thumbnails made and kept on disk (each is made once).',
      registers,
      collect() {
        this.reset();
        this.inc(thumbnails.stats.made);
      },
    });
    new Counter({
      name: `${METRIC_PREFIX}thumbnails_refused_total`,
      help: 'Thumbnail requests refused: busy (the job queue full, 429), too_large (over media.max_image_pixels, 413), unusable (not an image that can be thumbnailed, or no image library, 400).',
      labelNames: ['reason'],
      registers,
      collect() {
        this.reset();
        const { busy, tooLarge, unusable } = thumbnails.stats.refused;
        this.inc({ reason: 'busy' }, busy);
        this.inc({ reason: 'too_large' }, tooLarge);
        this.inc({ reason: 'unusable' }, unusable);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}thumbnail_jobs`,
      help: 'Thumbnail jobs running and waiting now.',
      labelNames: ['state'],
      registers,
      collect() {
        this.set({ state: 'running' }, thumbnails.depth.running);
        this.set({ state: 'waiting' }, thumbnails.depth.waiting);
      },
    });
  }

  /** Per destination server: what waits, how far behind the stream it is, and failed sends. */
  private watchFederation(federation: MetricSources['federation']): void {
    const registers = [this.registry];
    new Gauge({
      name: `${METRIC_PREFIX}federation_queue_depth`,
      help: 'Items waiting for a destination server outside the event stream: the durable outbox (to-device, device lists, relayed events) and ephemeral EDUs.',
      labelNames: ['destination'],
      registers,
      collect() {
        this.reset();
        for (const d of federation.destinations()) this.set({ destination: d.destination }, d.outbox + d.ephemeral);
      },
    });
    new Gauge({
      name: `${METRIC_PREFIX}federation_stream_lag`,
      help: 'Stream positions a destination\'s queue has not walked yet (0: caught up).',
      labelNames: ['destination'],
      registers,
      collect() {
        const head = federation.streamHead();
        this.reset();
        for (const d of federation.destinations()) this.set({ destination: d.destination }, Math.max(0, head - d.position));
      },
    });
    new Counter({
      name: `${METRIC_PREFIX}federation_send_failures_total`,
      help: 'Transactions to a destination that failed and will be retried (unreachable, 5xx, 429).',
      labelNames: ['destination'],
      registers,
      collect() {
        this.reset();
        for (const d of federation.destinations()) this.inc({ destination: d.destination }, d.sendFailures);
      },
    });
    new Counter({
      name: `${METRIC_PREFIX}federation_transactions_total`,
      help: 'Transactions a destination acknowledged (or refused for good), by destination.',
      labelNames: ['destination'],
      registers,
      collect() {
        this.reset();
        for (const d of federation.destinations()) this.inc({ destination: d.destination }, d.transactions);
      },
    });
  }

  /** The exposition text; the first call starts the process metrics (RSS, heap, event-loop lag). */
  async render(): Promise<{ contentType: string; body: string }> {
    if (!this.processMetricsStarted) {
      this.processMetricsStarted = true;
      collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
    }
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
