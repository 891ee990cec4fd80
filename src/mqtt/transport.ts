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
  /**
   * Who published, as one string per MQTT login (`device:<name>`, `user:<user id>`, `anonymous`;
   * identity/client-ids.ts `principalOf`): the bridge binds devices to it. Absent in external mode,
   * where the external broker authenticates and Hearth cannot tell publishers apart.
   */
  publisher?: string;
}

/**
 * The handler's answer when it refuses a message outright (a device publishing for a device another
 * login owns): returned synchronously, so the broker can drop the PUBLISH before it is routed to
 * subscribers or retained, whatever its QoS.
 */
export interface InboundRefusal {
  refused: string;
}

/**
 * Handles one inbound message. The returned promise resolves once the message is durably recorded
 * (telemetry batch written): a QoS 1 PUBACK is sent only after that [MQTT-4.3.2-1]. A rejection
 * means the message could not be used (bad payload: counted and logged, still acknowledged); it
 * must never crash the broker. An `InboundRefusal` means the message must not be routed at all.
 */
export type InboundHandler = (msg: InboundMessage) => Promise<void> | InboundRefusal;

export interface MqttTransport {
  /** Registers the one inbound handler (the bridge). */
  setInboundHandler(handler: InboundHandler): void;
  /** Publishes from the gateway itself (commands to devices). Commands are never retained. */
  publish(topic: string, payload: Buffer | string, opts: { qos: 0 | 1; retain: boolean }): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}
