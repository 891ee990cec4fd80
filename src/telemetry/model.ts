/** Shapes of the telemetry store: readings, rollups and query results. */

export type TelemetryValue = number | string | boolean;

export interface TelemetryPoint {
  ts: number;
  value: TelemetryValue;
}

export type RollupResolution = '5m' | '1h';
export type Resolution = 'raw' | RollupResolution;

export const ROLLUP_SPAN_MS: Record<RollupResolution, number> = { '5m': 5 * 60_000, '1h': 60 * 60_000 };

/** min/mean/max/count of the numeric (and boolean, as 0/1) readings of one bucket. */
export interface RollupPoint {
  ts: number;
  min: number;
  mean: number;
  max: number;
  count: number;
}

export type QueryResult =
  | { resolution: 'raw'; points: TelemetryPoint[] }
  | { resolution: RollupResolution; points: RollupPoint[] };

/** The durable description of a stream (`telemetry_streams`). Retention overrides the config defaults. */
export interface StreamRecord {
  short: number;
  unit?: string;
  rawRetentionDays?: number;
  rollupRetentionDays?: number;
}
