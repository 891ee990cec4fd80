/**
 * The seam between the MQTT broker side (embedded aedes or an external broker) and the bridge that
 * maps topics to rooms. The bridge never knows which broker mode runs.
 */

/** An MQTT message that reached the gateway from a device (or any authorised publisher). */
export interface InboundMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  /** MQTT client id of the publisher (embedded mode; empty in external mode). */
  clientId: string;
  /** Hearth device name of the authenticated publisher, when it is a registered device. */
  deviceName?: string;
}

/**
 * Handles one inbound message. The returned promise resolves once the message is durably recorded
 * (telemetry batch written): a QoS 1 PUBACK is sent only after that [MQTT-4.3.2-1]. A rejection
 * means the message was refused (counted and logged); it must never crash the broker.
 */
export type InboundHandler = (msg: InboundMessage) => Promise<void>;

export interface MqttTransport {
  /** Registers the one inbound handler (the bridge). */
  setInboundHandler(handler: InboundHandler): void;
  /** Publishes from the gateway itself (commands to devices). Commands are never retained. */
  publish(topic: string, payload: Buffer | string, opts: { qos: 0 | 1; retain: boolean }): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
