/**
 * What every sensor driver is to the agent: something that, asked, returns one number. The agent's
 * sampler (sampler.ts) asks each driver at its configured interval and publishes what it gets.
 *
 * Two kinds of failure are kept apart on purpose:
 * - `BadReadError`: the sensor answered, but the answer itself is known to be wrong (a DS18B20 CRC
 *   mismatch, its power-on reset value). Common on long 1-Wire cables; counted, never published.
 * - Any other error: the driver could not read at all (file gone, command failed or timed out).
 */

export interface SensorSource {
  /** What is read, for logs: a path or a command line. */
  readonly description: string;
  /** One measurement, in the sensor's configured unit. Throws `BadReadError` or another error. */
  read(): Promise<number>;
}

/** The sensor answered with a value known to be wrong; skip it, count it, try again next time. */
export class BadReadError extends Error {
  override readonly name = 'BadReadError';
}

/** A number a reading may carry: finite (JSON has no NaN or Infinity, and neither has a sensor). */
export function requireFinite(value: number, what: string): number {
  if (!Number.isFinite(value)) throw new Error(`${what}: not a finite number (${String(value)})`);
  return value;
}
