// The metrics-provider port: run one query against a metrics backend. Implemented by
// src/adapters/prometheus/ and src/adapters/web/ (and by fakes in tests). The result and error types are plain data
// from src/core/analysis/metric-query.ts, so the pure analysis core can judge them.
import type { MetricProvider } from '../api/analysis.ts';
import type { MetricQueryError, MetricQueryOutcome, QueryKind } from '../core/analysis/metric-query.ts';

export type { MetricQueryError, MetricQueryOutcome, MetricQueryResult, QueryKind } from '../core/analysis/metric-query.ts';

export interface MetricsQuery {
  kind: QueryKind;
  /** The query text, args already substituted. */
  query: string;
  /** Give up after this long (an error of kind 'timeout'); also sent to the backend. */
  timeoutMs: number;
  /** Extra request headers (on top of those the provider was configured with). */
  headers?: Readonly<Record<string, string>>;
  /** Evaluation time of an instant query; end of a range query. */
  time: Date;
  /** For kind 'range': the window and the resolution. */
  range?: { start: Date; end: Date; stepMs: number };
}

export interface MetricsProvider {
  readonly type: string;
  /** Never rejects: every failure is an outcome with a typed error. */
  query(q: MetricsQuery): Promise<MetricQueryOutcome>;
}

/**
 * `secrets`: the values the provider sends that came from Secrets (header and auth values), which
 * a caller masks in everything it records (a server may echo them in its reply).
 */
export type ProviderResult = { ok: true; provider: MetricsProvider; secrets?: readonly string[] } | { ok: false; error: MetricQueryError };

/** Makes the provider for a metric's `provider` block (keyed by its type; an unknown type is an error, never a fallback). */
export interface MetricsProviderFactory {
  /**
   * `namespace` is where Secrets named by the provider (auth, headers) are read.
   * Resolves with an error of kind 'config' for an unknown type, a missing Secret or a bad address.
   */
  forMetric(provider: MetricProvider, namespace: string): Promise<ProviderResult>;
  /**
   * The controller's address policy alone, without reading anything: an error of kind 'config'
   * when the provider's address (or url) is refused. Lets a caller refuse a metric before it
   * reads the Secrets of its args. forMetric checks again.
   */
  checkAddress?(provider: MetricProvider): MetricQueryError | undefined;
}
