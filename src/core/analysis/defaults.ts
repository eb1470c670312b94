// Analysis defaults and limits (Argo Rollouts' where the meaning is the same), and the order of
// phases. Pure. docs/analysis.md has the semantics table.
import type { AnalysisPhase, Metric, NoDataPolicy } from '../../api/analysis.ts';

export const DEFAULT_FAILURE_LIMIT = 0;
export const DEFAULT_INCONCLUSIVE_LIMIT = 0;
export const DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4;
export const DEFAULT_NO_DATA_POLICY: NoDataPolicy = 'Inconclusive';
export const DEFAULT_MEASUREMENT_RETENTION = 10;
/** Retry after an error measurement when the metric has no interval (as Argo Rollouts). */
export const DEFAULT_ERROR_RETRY_MS = 10_000;
export const DEFAULT_QUERY_TIMEOUT_MS = 30_000;
/** A web metric's `timeoutSeconds` when unset or 0 (Argo Rollouts' default). */
export const DEFAULT_WEB_TIMEOUT_MS = 10_000;
/**
 * The longest texts a measurement keeps in the status; longer ones end in "… N more" (N
 * characters left out), so a huge result or error can never make a status write fail forever.
 */
export const MAX_MEASUREMENT_VALUE_LENGTH = 512;
export const MAX_MEASUREMENT_MESSAGE_LENGTH = 1024;
export const MAX_MEASUREMENT_QUERY_LENGTH = 2048;
/** The longest metric and run messages in the status. */
export const MAX_STATUS_MESSAGE_LENGTH = 4096;
/** The longest `timeout` a query (or `timeoutSeconds` a web request) may have (Prometheus's own default limit); the adapters enforce it too. */
export const MAX_QUERY_TIMEOUT_MS = 120_000;

export const getFailureLimit = (m: Metric): number => m.failureLimit ?? DEFAULT_FAILURE_LIMIT;
export const getInconclusiveLimit = (m: Metric): number => m.inconclusiveLimit ?? DEFAULT_INCONCLUSIVE_LIMIT;
export const getConsecutiveErrorLimit = (m: Metric): number => m.consecutiveErrorLimit ?? DEFAULT_CONSECUTIVE_ERROR_LIMIT;
export const getNoDataPolicy = (m: Metric): NoDataPolicy => m.noDataPolicy ?? DEFAULT_NO_DATA_POLICY;

/** Measurements a metric takes: `count`, or 1 without an interval; undefined = until terminated. */
export function effectiveCount(metric: Pick<Metric, 'count' | 'interval'>): number | undefined {
  if (metric.count !== undefined && metric.count > 0) return metric.count;
  return metric.interval === undefined ? 1 : undefined;
}

export function isCompleted(phase: AnalysisPhase | undefined): boolean {
  return phase === 'Successful' || phase === 'Failed' || phase === 'Error' || phase === 'Inconclusive';
}

/** Pending < Running < Successful < Inconclusive < Error < Failed. */
const SEVERITY: Record<AnalysisPhase, number> = { Successful: 0, Pending: 1, Running: 2, Inconclusive: 3, Error: 4, Failed: 5 };

export function isWorse(a: AnalysisPhase, than: AnalysisPhase): boolean {
  return SEVERITY[a] > SEVERITY[than];
}

/** Phases that end a run at once, whatever the other metrics are doing. */
export const DECISIVE: ReadonlySet<AnalysisPhase> = new Set(['Failed', 'Error', 'Inconclusive']);
