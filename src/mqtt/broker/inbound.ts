/** The last step of the inbound path, shared by both broker modes: hand a message to the bridge. */
import { StorageFailingError, storageFaultOf } from '../../storage/storage-health.js';
import type { InboundHandler, InboundMessage, InboundRefusal } from '../transport.js';
import type { BrokerStats } from './stats.js';

/**
 * How the bridge finished with a message: `handled` (stored, or refused as malformed: acknowledged
 * either way), or `storage-failing`: it could not be stored, so it must not be acknowledged.
 */
export type InboundOutcome = 'handled' | 'storage-failing';

export interface BrokerLogger {
  warn(obj: object, msg: string): void;
}

/**
 * Runs the bridge handler and counts the outcome: `{ refused }` when the handler refused the message
 * outright (the caller drops it: not routed, not retained), otherwise a promise that settles when the
 * handler is done with it. That promise never rejects: a failure (bad payload) is counted and
 * logged, and the message is still acknowledged by the caller per its QoS; a storage fault (full
 * disk, docs/storage.md "When the disk fails") resolves `storage-failing`, and the caller withholds
 * the acknowledgement so that the client keeps the message and sends it again.
 */
export function deliverInbound(
  handler: InboundHandler | undefined,
  message: InboundMessage,
  counters: BrokerStats,
  logger: BrokerLogger,
): Promise<InboundOutcome> | InboundRefusal {
  if (!handler) return Promise.resolve('handled');
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
    () => {
      counters.accepted++;
      return 'handled';
    },
    (err: unknown) => {
      // The storage fault itself is logged once by storage-health.ts, not once per message.
      if (err instanceof StorageFailingError || storageFaultOf(err)) {
        counters.storageRefused++;
        return 'storage-failing';
      }
      counters.malformed++;
      logger.warn({ topic: message.topic, clientId: message.clientId, err }, 'mqtt message refused by the bridge');
      return 'handled';
    },
  );
}
