/**
 * MQTT ingest throughput (issue "Sensors become rooms", Figures): publishers send QoS 1 readings as
 * fast as their in-flight window allows; the figure is readings PUBACKed per second.
 */
import mqtt from 'mqtt';
import { CONVENTIONS } from '../../devices/agent/conventions/index.js';
import { ClimateSensor } from '../../devices/simulators/models.js';
import { perSecond } from './stats.js';

export interface Publisher {
  /** Device id; also the topic owner. */
  id: string;
  username?: string;
  password?: string;
}

/** Each publisher sends `perPublisher` Zigbee2MQTT climate readings with `inFlight` unacknowledged at most. */
export async function qos1Throughput(brokerUrl: string, publishers: Publisher[], perPublisher: number, inFlight = 32): Promise<number> {
  const convention = CONVENTIONS.zigbee2mqtt;
  const clients = await Promise.all(
    publishers.map((p) =>
      mqtt.connectAsync(brokerUrl, { clientId: p.id, username: p.username, password: p.password, protocolVersion: 4, reconnectPeriod: 0 }),
    ),
  );
  const start = performance.now();
  await Promise.all(
    publishers.map(async (p, index) => {
      const client = clients[index]!;
      const sensor = new ClimateSensor(p.id, index + 1);
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
  const rate = perSecond(publishers.length * perPublisher, performance.now() - start);
  await Promise.all(clients.map((c) => c.endAsync()));
  return rate;
}
