// Analysis verdicts: a query result as `result`, a measurement's verdict (success, failure,
// inconclusive, error, no data by policy), the measurements kept, and a metric's phase from its
// limits. PURE: no I/O, no clock (time comes in as an argument), no logger. docs/analysis.md has
// the semantics table; the AnalysisRun reconciler (src/controller/analysis/analysis-run-reconciler.ts) drives this.
import type { Result } from '../shared/result.ts';
import type { AnalysisPhase, AnalysisRunSpec, Measurement, MeasurementPhase, Metric, MetricResult } from '../../api/analysis.ts';
import { truncate } from '../shared/truncate.ts';
import { evaluateCondition, explainCondition, type CompiledCondition, type ConditionInput } from './cel.ts';
import { formatCel, formatJson } from './cel-format.ts';
import { selectFirst, type JsonPath } from './json-path.ts';
import { describeQueryError, type MetricQueryOutcome, type MetricQueryResult, type QueryKind } from './metric-query.ts';
import {
  DEFAULT_MEASUREMENT_RETENTION,
  effectiveCount,
  getConsecutiveErrorLimit,
  getFailureLimit,
  getInconclusiveLimit,
  getNoDataPolicy,
  isCompleted,
  isWorse,
  MAX_MEASUREMENT_MESSAGE_LENGTH,
  MAX_MEASUREMENT_QUERY_LENGTH,
  MAX_MEASUREMENT_VALUE_LENGTH,
} from './defaults.ts';
import type { CompiledMetric } from './compile.ts';

// ---------------------------------------------------------------------------------------
// A query result as `result`

export interface ConditionData {
  input: ConditionInput;
  /** Set when the result holds no usable data: why (e.g. "empty vector"). */
  noData?: string;
  /** The value as the measurement records it, when not formatCel(input) (a web metric's JSON). */
  display?: string;
}

/**
 * A vector becomes a list of numbers (one per series), a scalar a number, a range query a flat
 * list of every sample. No series, no samples, or any NaN is "no data". An instant query that
 * returns a matrix (a range selector such as `x[5m]`) is an error: the caller expected one value per series.
 * A web reply becomes the value `jsonPath` selects (the first match, as Argo Rollouts); a path
 * that selects nothing is an error, a JSON null is "no data".
 */
export function toConditionData(result: MetricQueryResult, kind: QueryKind, jsonPath?: JsonPath): Result<ConditionData> {
  if (result.type === 'json') {
    if (!jsonPath) return { ok: false, error: 'a JSON reply to a metric without a jsonPath' };
    const selected = selectFirst(jsonPath, result.document);
    if (!selected.ok) return selected;
    const value = selected.value.value;
    const display = formatJson(value);
    return { ok: true, value: value === null ? { input: value, noData: 'null', display } : { input: value, display } };
  }
  if (kind === 'instant' && result.type === 'matrix') {
    return {
      ok: false,
      error:
        'the query returned a range vector (matrix) where an instant vector or scalar was expected: aggregate it (e.g. ' +
        'rate(x[5m]) instead of x[5m]) or use rangeQuery',
    };
  }
  if (kind === 'range' && result.type !== 'matrix') {
    return { ok: false, error: `a range query returned a ${result.type} instead of a matrix` };
  }
  switch (result.type) {
    case 'scalar':
      return { ok: true, value: Number.isNaN(result.value) ? { input: result.value, noData: 'NaN' } : { input: result.value } };
    case 'vector': {
      const values = result.series.map((s) => s.value);
      return { ok: true, value: withNoData(values, 'empty vector', 'series') };
    }
    case 'matrix': {
      const values = result.series.flatMap((s) => s.values);
      return { ok: true, value: withNoData(values, result.series.length === 0 ? 'empty matrix' : 'no samples in range', 'samples') };
    }
  }
}

function withNoData(values: number[], emptyReason: string, unit: string): ConditionData {
  if (values.length === 0) return { input: values, noData: emptyReason };
  const nan = values.filter((v) => Number.isNaN(v)).length;
  if (nan > 0) return { input: values, noData: `NaN in ${nan} of ${values.length} ${unit}` };
  return { input: values };
}

// ---------------------------------------------------------------------------------------
// Measurements

export interface MeasurementContext {
  /** The query as recorded (Secret values masked). */
  query: string;
  startedAt: Date;
  finishedAt: Date;
}

export function errorMeasurement(message: string, ctx: MeasurementContext): Measurement {
  return { phase: 'Error', startedAt: ctx.startedAt.toISOString(), finishedAt: ctx.finishedAt.toISOString(), query: ctx.query, message };
}

/**
 * The verdict of one measurement (as Argo Rollouts, plus the no-data policy):
 * - only successCondition: true = Successful, false = Failed
 * - only failureCondition: true = Failed, false = Successful
 * - both: failure true = Failed, else success true = Successful, else Inconclusive
 * - a query error, a timeout, or a condition that cannot be evaluated (or is not a bool) = Error
 * - no data (empty, NaN) = the metric's noDataPolicy (Inconclusive by default), never a silent pass
 */
export function assessMeasurement(metric: CompiledMetric, outcome: MetricQueryOutcome, ctx: MeasurementContext): Measurement {
  const base = { startedAt: ctx.startedAt.toISOString(), finishedAt: ctx.finishedAt.toISOString(), query: ctx.query };
  if (!outcome.ok) return { ...base, phase: 'Error', message: describeQueryError(outcome.error, metric.provider) };
  const data = toConditionData(outcome.result, metric.kind, metric.jsonPath);
  if (!data.ok) return { ...base, phase: 'Error', message: `bad response: ${data.error}` };
  const value = data.value.display ?? formatCel(data.value.input);
  const policy = getNoDataPolicy(metric.metric);
  if (data.value.noData !== undefined && policy !== 'Evaluate') {
    return { ...base, phase: policy, value, noData: true, message: `no data (${data.value.noData}): noDataPolicy ${policy}` };
  }
  const verdict = judge(metric, data.value.input, value);
  const prefix = data.value.noData !== undefined ? `no data (${data.value.noData}), evaluated: ` : '';
  return {
    ...base,
    phase: verdict.phase,
    value,
    ...(verdict.condition ? { condition: verdict.condition } : {}),
    ...(data.value.noData !== undefined ? { noData: true } : {}),
    message: prefix + verdict.message,
  };
}

function judge(metric: CompiledMetric, input: ConditionInput, shown: string): { phase: MeasurementPhase; message: string; condition?: string } {
  const { success, failure } = metric;
  const run = (c: CompiledCondition, field: string) => {
    const r = evaluateCondition(c, input);
    return r.ok ? r : { ok: false as const, error: `${field} "${c.source}" could not be evaluated with result ${truncate(shown, 200)}: ${r.error}` };
  };
  const failed = failure ? run(failure, 'failureCondition') : undefined;
  if (failed && !failed.ok) return { phase: 'Error', message: failed.error, condition: `failureCondition: ${failure?.source}` };
  const succeeded = success ? run(success, 'successCondition') : undefined;
  if (succeeded && !succeeded.ok) return { phase: 'Error', message: succeeded.error, condition: `successCondition: ${success?.source}` };

  if (failure && failed?.ok && failed.value) {
    return { phase: 'Failed', message: explainCondition(failure, input, true), condition: `failureCondition: ${failure.source}` };
  }
  if (success && succeeded?.ok) {
    if (succeeded.value) return { phase: 'Successful', message: explainCondition(success, input, true), condition: `successCondition: ${success.source}` };
    if (!failure) return { phase: 'Failed', message: explainCondition(success, input, false), condition: `successCondition: ${success.source}` };
    return {
      phase: 'Inconclusive',
      message: `neither condition met: ${explainCondition(success, input, false)}; ${explainCondition(failure, input, false)}`,
      condition: `successCondition: ${success.source}; failureCondition: ${failure.source}`,
    };
  }
  if (failure) return { phase: 'Successful', message: explainCondition(failure, input, false), condition: `failureCondition: ${failure.source}` };
  // compileMetrics rejects a metric without conditions; never a silent pass.
  return { phase: 'Error', message: 'the metric has no successCondition or failureCondition' };
}

/** A measurement as the status keeps it: value, message, query and condition truncated (see MAX_MEASUREMENT_*). */
function boundedMeasurement(m: Measurement): Measurement {
  return {
    ...m,
    message: truncate(m.message, MAX_MEASUREMENT_MESSAGE_LENGTH),
    ...(m.value !== undefined ? { value: truncate(m.value, MAX_MEASUREMENT_VALUE_LENGTH) } : {}),
    ...(m.query !== undefined ? { query: truncate(m.query, MAX_MEASUREMENT_QUERY_LENGTH) } : {}),
    ...(m.condition !== undefined ? { condition: truncate(m.condition, MAX_MEASUREMENT_MESSAGE_LENGTH) } : {}),
  };
}

/** Adds a measurement to a metric's result: counters as Argo Rollouts (errors do not count towards `count`), bounded history. */
export function recordMeasurement(previous: MetricResult | undefined, name: string, measurement: Measurement, retention: number): MetricResult {
  const r: MetricResult = previous
    ? { ...previous }
    : { name, phase: 'Running', count: 0, successful: 0, failed: 0, inconclusive: 0, error: 0, consecutiveError: 0 };
  switch (measurement.phase) {
    case 'Successful':
      r.successful += 1;
      r.count += 1;
      r.consecutiveError = 0;
      break;
    case 'Failed':
      r.failed += 1;
      r.count += 1;
      r.consecutiveError = 0;
      break;
    case 'Inconclusive':
      r.inconclusive += 1;
      r.count += 1;
      r.consecutiveError = 0;
      break;
    case 'Error':
      r.error += 1;
      r.consecutiveError += 1;
      break;
  }
  r.measurements = [...(previous?.measurements ?? []), boundedMeasurement(measurement)].slice(-Math.max(1, retention));
  if (r.phase === 'Pending') r.phase = 'Running';
  return r;
}

/** How many measurements a metric keeps in the status (measurementRetention by name, then `*`, then 10). */
export function measurementRetentionFor(spec: Pick<AnalysisRunSpec, 'measurementRetention'>, metricName: string): number {
  const rules = spec.measurementRetention ?? [];
  const rule = rules.find((r) => r.metricName === metricName) ?? rules.find((r) => r.metricName === '*');
  return rule?.limit ?? DEFAULT_MEASUREMENT_RETENTION;
}

// ---------------------------------------------------------------------------------------
// Phases

export interface MetricAssessment {
  phase: AnalysisPhase;
  message: string;
}

export function lastOf(result: MetricResult | undefined, phase?: MeasurementPhase): Measurement | undefined {
  const ms = result?.measurements ?? [];
  for (let i = ms.length - 1; i >= 0; i--) {
    const m = ms[i];
    if (m && (phase === undefined || m.phase === phase)) return m;
  }
  return undefined;
}

/**
 * A metric's phase from its counters and limits (as Argo Rollouts):
 * Failed when failed > failureLimit; Inconclusive when inconclusive > inconclusiveLimit;
 * Error when consecutiveError > consecutiveErrorLimit; Successful when `count` measurements
 * were taken without that, or when the run is terminating; Pending before the first
 * measurement, Running after. A completed phase never changes.
 */
export function calculateMetricPhase(metric: Metric, result: MetricResult | undefined, terminating: boolean): MetricAssessment {
  if (result && isCompleted(result.phase)) return { phase: result.phase, message: result.message ?? '' };
  const last = lastOf(result);
  const count = effectiveCount(metric);
  if (!result || !last) {
    if (terminating) return { phase: 'Successful', message: 'terminated before the first measurement' };
    return { phase: 'Pending', message: 'waiting for the first measurement' };
  }
  const failureLimit = getFailureLimit(metric);
  if (result.failed > failureLimit) {
    return { phase: 'Failed', message: `${lastOf(result, 'Failed')?.message ?? last.message} (failed ${result.failed} > failureLimit ${failureLimit})` };
  }
  const inconclusiveLimit = getInconclusiveLimit(metric);
  if (result.inconclusive > inconclusiveLimit) {
    return {
      phase: 'Inconclusive',
      message: `${lastOf(result, 'Inconclusive')?.message ?? last.message} (inconclusive ${result.inconclusive} > inconclusiveLimit ${inconclusiveLimit})`,
    };
  }
  const errorLimit = getConsecutiveErrorLimit(metric);
  if (result.consecutiveError > errorLimit) {
    return {
      phase: 'Error',
      message: `${lastOf(result, 'Error')?.message ?? last.message} (${result.consecutiveError} consecutive errors > consecutiveErrorLimit ${errorLimit})`,
    };
  }
  const tally = tallyOf(metric, result);
  if (count !== undefined && result.count >= count) {
    return { phase: 'Successful', message: `${lastVerdict(result)?.message ?? last.message} (${tally})` };
  }
  if (terminating) return { phase: 'Successful', message: `terminated after ${result.count} measurement${result.count === 1 ? '' : 's'}: ${last.message}` };
  const progress = count === undefined ? `measurement ${result.count}, until terminated` : `measurement ${result.count} of ${count}`;
  return { phase: 'Running', message: `${last.message} (${progress}${last.phase === 'Error' ? `, ${result.consecutiveError} consecutive errors` : ''})` };
}

function lastVerdict(result: MetricResult): Measurement | undefined {
  const ms = result.measurements ?? [];
  for (let i = ms.length - 1; i >= 0; i--) {
    const m = ms[i];
    if (m && m.phase !== 'Error') return m;
  }
  return undefined;
}

function tallyOf(metric: Metric, r: MetricResult): string {
  const parts = [`${r.successful} of ${r.count} successful`];
  if (r.failed > 0) parts.push(`failed ${r.failed} <= failureLimit ${getFailureLimit(metric)}`);
  if (r.inconclusive > 0) parts.push(`inconclusive ${r.inconclusive} <= inconclusiveLimit ${getInconclusiveLimit(metric)}`);
  if (r.error > 0) parts.push(`${r.error} error${r.error === 1 ? '' : 's'}`);
  return parts.join(', ');
}

/** The run's phase: Running until every metric is completed, then the worst metric phase. */
export function calculateRunPhase(metricPhases: readonly AnalysisPhase[]): AnalysisPhase {
  if (metricPhases.length === 0) return 'Running';
  if (!metricPhases.every(isCompleted)) return metricPhases.every((p) => p === 'Pending') ? 'Pending' : 'Running';
  return metricPhases.reduce((worst, p) => (isWorse(p, worst) ? p : worst), 'Successful' as AnalysisPhase);
}
