/** parse-prometheus-text-format ships no types: the part the metrics tests use. */
declare module 'parse-prometheus-text-format' {
  /** Metric families in the order of the text; throws on a line that is not the text format. */
  export default function parsePrometheusTextFormat(text: string): unknown[];
}
