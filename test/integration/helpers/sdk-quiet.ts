/**
 * Silences matrix-js-sdk's module-level loggers, when imported before the SDK itself. Some SDK
 * modules bind a logger method once at load (event-timeline-set's `debuglog`), so silencing later
 * cannot reach them; test files that exercise those paths import this module first.
 */
import { logger as sdkRootLogger } from 'matrix-js-sdk/lib/logger.js';

/** What the SDK's root logger is at runtime: a loglevel logger (its declared type hides this). */
interface LoglevelLogger {
  methodFactory: (...args: unknown[]) => (...msg: unknown[]) => void;
  rebuild(): void;
}

/**
 * Silences the SDK's module-level loggers. Setting a level is not enough: every child logger (e.g.
 * MatrixRTCSessionManager's) is created at DEBUG, but copies its parent's `methodFactory` (loglevel's
 * plugin hook), so a root factory that makes no-op methods reaches them all. Clients get
 * `silentLogger` through their options.
 */
export function silenceSdk(): void {
  const root = sdkRootLogger as unknown as LoglevelLogger;
  root.methodFactory = () => () => {};
  root.rebuild();
}

silenceSdk();
