// The data a metrics query returns, as plain values. Pure types: the port (src/ports/metrics.ts)
// and its adapters produce them, the analysis core (src/core/analysis/verdicts.ts) judges them.
import type { JsonValue } from './json-path.ts';

export type QueryKind = 'instant' | 'range';

export type Labels = Readonly<Record<string, string>>;

/**
 * Prometheus values are numbers as Prometheus sent them, including NaN, +Inf (Infinity) and -Inf.
 * A web metric's reply is the parsed JSON document (its jsonPath is applied by the core).
 */
export type MetricQueryResult =
  | { type: 'vector'; series: { labels: Labels; value: number }[] }
  | { type: 'scalar'; value: number }
  | { type: 'matrix'; series: { labels: Labels; values: number[] }[] }
  | { type: 'json'; document: JsonValue };

/**
 * Why a query gave no result:
 * - unreachable: connection refused, DNS failure, TLS failure
 * - timeout: no complete answer within the metric's timeout
 * - badResponse: not the Prometheus API (HTML, non-JSON, wrong shape, wrong result type); for a web metric, not JSON or too large
 * - queryError: Prometheus rejected or failed the query (PromQL syntax, execution error); message is Prometheus's own
 * - http: any other non-2xx answer (401, 403, 404, 5xx without a Prometheus error body), and a redirect (never followed)
 * - config: the metric cannot be sent (unknown provider type, missing Secret, bad address)
 */
export type MetricQueryErrorKind = 'unreachable' | 'timeout' | 'badResponse' | 'queryError' | 'http' | 'config';

export interface MetricQueryError {
  kind: MetricQueryErrorKind;
  message: string;
  httpStatus?: number;
}

export type MetricQueryOutcome = { ok: true; result: MetricQueryResult; warnings?: string[] } | { ok: false; error: MetricQueryError };

const KIND_LABEL: Record<MetricQueryErrorKind, string> = {
  unreachable: 'Prometheus unreachable',
  timeout: 'query timed out',
  badResponse: 'bad response',
  queryError: 'query error',
  http: 'HTTP error',
  config: 'cannot query',
};

/** Labels that name Prometheus, for the other providers. */
const OTHER_LABEL: Partial<Record<MetricQueryErrorKind, string>> = { unreachable: 'unreachable', timeout: 'request timed out' };

/** e.g. `query error: 1:5: parse error: unexpected ...`; `provider` names what was unreachable. */
export function describeQueryError(error: MetricQueryError, provider = 'prometheus'): string {
  const label = (provider !== 'prometheus' ? OTHER_LABEL[error.kind] : undefined) ?? KIND_LABEL[error.kind];
  return `${label}: ${error.message}`;
}
