/**
 * MQTT ingest throughput (issue "Sensors become rooms", Figures): publishers send QoS 1 readings as
 * fast as their in-flight window allows; the figure is readings PUBACKed per second.
 *
 * A fleet connects once and is measured in rounds, so the bench can alternate rounds between two
 * brokers (load from other processes then falls on both alike, as in the Client-Server section).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { CONVENTIONS } from '../../devices/agent/conventions/index.js';
import { ClimateSensor } from '../../devices/simulators/models.js';
import { perSecond } from './stats.js';

export interface Publisher {
  /** Device id; also the topic owner. */
  id: string;
  username?: string;
  password?: string;
}

export class PublisherFleet {
  private constructor(
    private readonly clients: MqttClient[],
    private readonly sensors: ClimateSensor[],
  ) {}

  static async connect(brokerUrl: string, publishers: Publisher[]): Promise<PublisherFleet> {
    const clients = await Promise.all(
      publishers.map((p) =>
        mqtt.connectAsync(brokerUrl, { clientId: p.id, username: p.username, password: p.password, protocolVersion: 4, reconnectPeriod: 0 }),
      ),
    );
    return new PublisherFleet(clients, publishers.map((p, index) => new ClimateSensor(p.id, index + 1)));
  }

  /** One round: each publisher sends `perPublisher` Zigbee2MQTT climate readings, `inFlight` unacknowledged at most. */
  async round(perPublisher: number, inFlight = 32): Promise<number> {
    const convention = CONVENTIONS.zigbee2mqtt;
    const start = performance.now();
    await Promise.all(
      this.clients.map(async (client, index) => {
        const sensor = this.sensors[index]!;
        let next = 0;
        const lane = async (): Promise<void> => {
          while (next < perPublisher) {
            next++;
            const [message] = convention.encodeReading(sensor.description, { ts: Date.now(), values: sensor.sample() });
            await client.publishAsync(message!.topic, message!.payload, { qos: 1 });
          }
        };
        await Promise.all(Array.from({ length: inFlight }, lane));
      }),
    );
    return perSecond(this.clients.length * perPublisher, performance.now() - start);
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.endAsync()));
  }
}
