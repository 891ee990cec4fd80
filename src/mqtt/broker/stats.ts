/** Counters of the broker side, shared by both broker modes, read through `stats()`. */
export interface BrokerStats {
  /** Inbound publishes the bridge handler accepted. */
  accepted: number;
  /** Publishes dropped because the ACL refused the topic. */
  refusedPublishes: number;
  /** Subscriptions answered with SUBACK 0x80 because the ACL refused the filter. */
  refusedSubscriptions: number;
  /** Publishes over `mqtt.max_payload_bytes` (the connection is closed). */
  oversized: number;
  /** Publishes the bridge handler rejected (bad payload); acknowledged, not mapped. */
  malformed: number;
  /** CONNECTs refused for bad or missing credentials. */
  authFailures: number;
  /** CONNECTs refused because another identity holds the client id (client-ids.ts). */
  clientIdRefused: number;
  /** Packets not queued because a persistent session's offline queue was full. */
  offlineDropped: number;
  /** Packets with NUL or ill-formed UTF-8 in a string (topic, client id, ...): connection closed. */
  invalidStrings: number;
  /** Retained publishes over the `mqtt.retained` caps: delivered, not retained. */
  retainedRefused: number;
  /**
   * QoS 1/2 publishes not acknowledged because storage was failing (a full disk): the connection is
   * closed instead, and the client sends them again once it reconnects.
   */
  storageRefused: number;
  /**
   * Publishes of devices that must sign (docs/mqtt.md "Signed readings") refused because they were
   * not signed, carried a bad signature or envelope, or a counter not above the last accepted:
   * acknowledged and dropped.
   */
  unsignedRefused: number;
  forgedRefused: number;
  replayedRefused: number;
  /** Envelopes of devices without a key, unwrapped without a check (nothing to check them with). */
  signatureUnchecked: number;
}

export function createBrokerStats(): BrokerStats {
  return {
    accepted: 0,
    refusedPublishes: 0,
    refusedSubscriptions: 0,
    oversized: 0,
    malformed: 0,
    authFailures: 0,
    clientIdRefused: 0,
    offlineDropped: 0,
    invalidStrings: 0,
    retainedRefused: 0,
    storageRefused: 0,
    unsignedRefused: 0,
    forgedRefused: 0,
    replayedRefused: 0,
    signatureUnchecked: 0,
  };
}
