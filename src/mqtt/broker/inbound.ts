/** The last step of the inbound path, shared by both broker modes: hand a message to the bridge. */
import type { InboundHandler, InboundMessage, InboundRefusal } from '../transport.js';
import type { BrokerStats } from './stats.js';

export interface BrokerLogger {
  warn(obj: object, msg: string): void;
}

/**
 * Runs the bridge handler and counts the outcome: `{ refused }` when the handler refused the message
 * outright (the caller drops it: not routed, not retained), otherwise a promise that settles when the
 * handler is done with it. That promise never rejects: a failure (bad payload) is counted and
 * logged, and the message is still acknowledged by the caller per its QoS.
 */
export function deliverInbound(
  handler: InboundHandler | undefined,
  message: InboundMessage,
  counters: BrokerStats,
  logger: BrokerLogger,
): Promise<void> | InboundRefusal {
  if (!handler) return Promise.resolve();
  let outcome: Promise<void> | InboundRefusal;
  try {
    outcome = handler(message);
  } catch (err) {
    outcome = Promise.reject(err);
  }
  if (!(outcome instanceof Promise)) {
    counters.refusedPublishes++;
    return outcome;
  }
  return outcome.then(
    () => void counters.accepted++,
    (err: unknown) => {
      counters.malformed++;
      logger.warn({ topic: message.topic, clientId: message.clientId, err }, 'mqtt message refused by the bridge');
    },
  );
}
