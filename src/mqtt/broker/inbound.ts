/** The last step of the inbound path, shared by both broker modes: hand a message to the bridge. */
import type { InboundHandler, InboundMessage } from '../transport.js';
import type { BrokerStats } from './stats.js';

export interface BrokerLogger {
  warn(obj: object, msg: string): void;
}

/**
 * Runs the bridge handler and counts the outcome. Never rejects: a refusal (bad payload) is
 * counted and logged, and the message is still acknowledged by the caller per its QoS.
 */
export async function deliverInbound(
  handler: InboundHandler | undefined,
  message: InboundMessage,
  counters: BrokerStats,
  logger: BrokerLogger,
): Promise<void> {
  if (!handler) return;
  try {
    await handler(message);
    counters.accepted++;
  } catch (err) {
    counters.malformed++;
    logger.warn({ topic: message.topic, clientId: message.clientId, err }, 'mqtt message refused by the bridge');
  }
}
