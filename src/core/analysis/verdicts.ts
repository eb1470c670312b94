// Analysis semantics: measurement verdicts, metric and run phases, timing and explanations.
// PURE: no I/O, no clock (time comes in as an argument), no logger. docs/analysis.md has the
// semantics table; the AnalysisRun reconciler (src/controller/analysis/analysis-run-reconciler.ts) drives this.
import type { Result } from '../shared/result.ts';
import type {
  AnalysisPhase,
  AnalysisRun,
  AnalysisRunSpec,
  AnalysisRunStatus,
  Measurement,
  MeasurementPhase,
  Metric,
  MetricResult,
  NoDataPolicy,
} from '../../api/analysis.ts';
import { durationToMs } from '../../api/duration.ts';
import { boundedRequeue } from '../shared/requeue.ts';
import { truncate } from '../shared/truncate.ts';
import type { Duration } from '../../api/meta.ts';
import { placeholdersIn, substituteArgs, substitutePromQL, type ArgValue } from './args.ts';
import { compileCondition, evaluateCondition, explainCondition, formatCel, type CompiledCondition, type ConditionInput } from './cel.ts';
import { describeQueryError, type MetricQueryOutcome, type MetricQueryResult, type QueryKind } from './metric-query.ts';

export const DEFAULT_FAILURE_LIMIT = 0;
export const DEFAULT_INCONCLUSIVE_LIMIT = 0;
export const DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4;
export const DEFAULT_NO_DATA_POLICY: NoDataPolicy = 'Inconclusive';
export const DEFAULT_MEASUREMENT_RETENTION = 10;
/** Retry after an error measurement when the metric has no interval (as Argo Rollouts). */
export const DEFAULT_ERROR_RETRY_MS = 10_000;
export const DEFAULT_QUERY_TIMEOUT_MS = 30_000;
/**
 * The longest texts a measurement keeps in the status; longer ones end in "… N more" (N
 * characters left out), so a huge result or error can never make a status write fail forever.
 */
export const MAX_MEASUREMENT_VALUE_LENGTH = 512;
export const MAX_MEASUREMENT_MESSAGE_LENGTH = 1024;
export const MAX_MEASUREMENT_QUERY_LENGTH = 2048;
/** The longest metric and run messages in the status. */
export const MAX_STATUS_MESSAGE_LENGTH = 4096;
/** The longest `timeout` a query may have (Prometheus's own default limit); the adapter enforces it too. */
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
const DECISIVE: ReadonlySet<AnalysisPhase> = new Set(['Failed', 'Error', 'Inconclusive']);

// ---------------------------------------------------------------------------------------
// Validation and compilation (first use)

/** A metric checked and ready: durations in ms, conditions compiled, args substituted in the conditions. */
export interface CompiledMetric {
  metric: Metric;
  kind: QueryKind;
  success?: CompiledCondition;
  failure?: CompiledCondition;
  intervalMs?: number;
  initialDelayMs: number;
  timeoutMs: number;
  range?: { rangeMs: number; stepMs: number };
}

function duration(value: Duration | undefined, what: string, problems: string[]): number | undefined {
  if (value === undefined) return undefined;
  try {
    return durationToMs(value);
  } catch (err) {
    problems.push(`${what}: ${(err as Error).message}`);
    return undefined;
  }
}

/**
 * Checks a run's metrics and compiles their conditions. Every problem is reported, each naming
 * the metric and the field, e.g. `metric error-rate: invalid successCondition "result[0] >=":
 * syntax error: …`. `literalArgs` are the args with literal values (conditions may use them;
 * args from Secrets may only be used in queries).
 */
export function compileMetrics(spec: AnalysisRunSpec, literalArgs: ReadonlyMap<string, ArgValue>): Result<CompiledMetric[]> {
  const problems: string[] = [];
  const compiled: CompiledMetric[] = [];
  const seen = new Set<string>();
  const declared = new Set((spec.args ?? []).map((a) => a.name));
  for (const metric of spec.metrics) {
    const at = `metric ${metric.name}`;
    const before = problems.length;
    if (seen.has(metric.name)) problems.push(`${at}: defined twice`);
    seen.add(metric.name);
    if (metric.successCondition === undefined && metric.failureCondition === undefined) {
      problems.push(`${at}: needs a successCondition or a failureCondition (without one every measurement would pass)`);
    }
    if (metric.count !== undefined && metric.count > 1 && metric.interval === undefined) {
      problems.push(`${at}: interval must be set when count is greater than 1`);
    }
    const intervalMs = duration(metric.interval, `${at}: interval`, problems);
    if (intervalMs === 0) problems.push(`${at}: interval must be greater than 0`);
    const initialDelayMs = duration(metric.initialDelay, `${at}: initialDelay`, problems) ?? 0;
    const types = providerTypes(metric);
    if (types.length !== 1) {
      problems.push(`${at}: ${types.length === 0 ? 'no provider set' : `more than one provider set (${types.join(', ')})`}; supported: prometheus`);
    } else if (!KNOWN_PROVIDERS.has(types[0] as string)) {
      problems.push(`${at}: unknown provider "${types[0]}"; supported: prometheus`);
    }
    const prometheus = metric.provider.prometheus;
    let timeoutMs = DEFAULT_QUERY_TIMEOUT_MS;
    let range: CompiledMetric['range'];
    if (prometheus) {
      timeoutMs = duration(prometheus.timeout, `${at}: timeout`, problems) ?? DEFAULT_QUERY_TIMEOUT_MS;
      if (timeoutMs === 0) problems.push(`${at}: timeout must be greater than 0`);
      if (timeoutMs > MAX_QUERY_TIMEOUT_MS) problems.push(`${at}: timeout ${timeoutMs / 1000}s is longer than the maximum of ${MAX_QUERY_TIMEOUT_MS / 1000}s`);
      if (prometheus.rangeQuery) {
        const rangeMs = duration(prometheus.rangeQuery.range, `${at}: rangeQuery.range`, problems);
        const stepMs = duration(prometheus.rangeQuery.step, `${at}: rangeQuery.step`, problems);
        if (rangeMs === 0 || stepMs === 0) problems.push(`${at}: rangeQuery.range and rangeQuery.step must be greater than 0`);
        if (rangeMs !== undefined && stepMs !== undefined) range = { rangeMs, stepMs };
      }
      const undeclared = placeholdersIn(prometheus.query).filter((n) => !declared.has(n));
      if (undeclared.length > 0)
        problems.push(`${at}: query uses ${[...new Set(undeclared)].map((n) => `{{args.${n}}}`).join(', ')}, which is not an arg of the analysis`);
      else {
        // Literal values are known now: one that cannot go where it stands is refused before anything is measured.
        const checked = substitutePromQL(prometheus.query, literalArgs, { partial: true });
        if (!checked.ok) problems.push(`${at}: query: ${checked.error}`);
      }
      for (const header of prometheus.headers ?? []) {
        const bad = placeholdersIn(header.value ?? '').filter((n) => !declared.has(n));
        if (bad.length > 0) problems.push(`${at}: header ${header.key} uses {{args.${bad[0]}}}, which is not an arg of the analysis`);
      }
    }
    const success = compileMetricCondition(metric, 'successCondition', literalArgs, declared, problems);
    const failure = compileMetricCondition(metric, 'failureCondition', literalArgs, declared, problems);
    if (problems.length === before) {
      compiled.push({
        metric,
        kind: range ? 'range' : 'instant',
        ...(success ? { success } : {}),
        ...(failure ? { failure } : {}),
        ...(intervalMs !== undefined ? { intervalMs } : {}),
        initialDelayMs,
        timeoutMs,
        ...(range ? { range } : {}),
      });
    }
  }
  if (problems.length > 0) return { ok: false, error: problems.join('; ') };
  return { ok: true, value: compiled };
}

function compileMetricCondition(
  metric: Metric,
  field: 'successCondition' | 'failureCondition',
  literalArgs: ReadonlyMap<string, ArgValue>,
  declared: ReadonlySet<string>,
  problems: string[],
): CompiledCondition | undefined {
  const source = metric[field];
  if (source === undefined) return undefined;
  const at = `metric ${metric.name}: ${field} "${source}"`;
  const used = placeholdersIn(source);
  const undeclared = used.filter((n) => !declared.has(n));
  if (undeclared.length > 0) {
    problems.push(`${at} uses {{args.${undeclared[0]}}}, which is not an arg of the analysis`);
    return undefined;
  }
  const fromSecret = used.filter((n) => !literalArgs.has(n));
  if (fromSecret.length > 0) {
    problems.push(`${at} uses {{args.${fromSecret[0]}}}, which has no literal value (args from Secrets can only be used in queries)`);
    return undefined;
  }
  const substituted = substituteArgs(source, literalArgs);
  if (!substituted.ok) {
    problems.push(`${at}: ${substituted.error}`);
    return undefined;
  }
  const compiled = compileCondition(substituted.value.text);
  if (!compiled.ok) {
    problems.push(`metric ${metric.name}: invalid ${field} "${substituted.value.text}": ${compiled.error}`);
    return undefined;
  }
  return compiled.value;
}

/** Provider types the schema defines (the adapters' factory checks again). */
const KNOWN_PROVIDERS: ReadonlySet<string> = new Set(['prometheus']);

/** The provider blocks set on a metric (exactly one is valid). */
export function providerTypes(metric: Metric): string[] {
  return Object.entries(metric.provider as Record<string, unknown>)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k]) => k);
}

// ---------------------------------------------------------------------------------------
// A query result as `result`

export interface ConditionData {
  input: ConditionInput;
  /** Set when the result holds no usable data: why (e.g. "empty vector"). */
  noData?: string;
}

/**
 * A vector becomes a list of numbers (one per series), a scalar a number, a range query a flat
 * list of every sample. No series, no samples, or any NaN is "no data". An instant query that
 * returns a matrix (a range selector such as `x[5m]`) is an error: the caller expected one value per series.
 */
export function toConditionData(result: MetricQueryResult, kind: QueryKind): Result<ConditionData> {
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
  if (!outcome.ok) return { ...base, phase: 'Error', message: describeQueryError(outcome.error) };
  const data = toConditionData(outcome.result, metric.kind);
  if (!data.ok) return { ...base, phase: 'Error', message: `bad response: ${data.error}` };
  const value = formatCel(data.value.input);
  const policy = getNoDataPolicy(metric.metric);
  if (data.value.noData !== undefined && policy !== 'Evaluate') {
    return { ...base, phase: policy, value, noData: true, message: `no data (${data.value.noData}): noDataPolicy ${policy}` };
  }
  const verdict = judge(metric, data.value.input);
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

function judge(metric: CompiledMetric, input: ConditionInput): { phase: MeasurementPhase; message: string; condition?: string } {
  const { success, failure } = metric;
  const run = (c: CompiledCondition, field: string) => {
    const r = evaluateCondition(c, input);
    return r.ok ? r : { ok: false as const, error: `${field} "${c.source}" could not be evaluated with result ${formatCel(input)}: ${r.error}` };
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

function lastOf(result: MetricResult | undefined, phase?: MeasurementPhase): Measurement | undefined {
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

// ---------------------------------------------------------------------------------------
// Timing

/**
 * When a metric's next measurement is due, or undefined when it takes no more: the first at
 * run start + initialDelay, then last finish + interval (after an error without an interval:
 * + 10s), none after `count` or once the metric is completed or the run is terminating.
 */
export function calculateNextMeasurementAt(
  compiled: CompiledMetric,
  result: MetricResult | undefined,
  runStartedAt: Date,
  terminating: boolean,
): Date | undefined {
  if (terminating || (result && isCompleted(result.phase))) return undefined;
  const count = effectiveCount(compiled.metric);
  if (count !== undefined && result && result.count >= count) return undefined;
  const last = lastOf(result);
  if (!last) return new Date(runStartedAt.getTime() + compiled.initialDelayMs);
  const interval = compiled.intervalMs ?? (last.phase === 'Error' ? DEFAULT_ERROR_RETRY_MS : undefined);
  if (interval === undefined) return undefined;
  const finished = Date.parse(last.finishedAt);
  return new Date((Number.isNaN(finished) ? runStartedAt.getTime() : finished) + interval);
}

export function isMeasurementDue(next: Date | undefined, now: Date): boolean {
  return next !== undefined && next.getTime() <= now.getTime();
}

// ---------------------------------------------------------------------------------------
// The whole run

/** The metrics to measure now (empty once the run is completed or terminating). */
export function dueMetrics(run: Pick<AnalysisRun, 'spec' | 'status'>, compiled: readonly CompiledMetric[], now: Date): CompiledMetric[] {
  if (isCompleted(run.status?.phase) || run.spec.terminate) return [];
  const startedAt = parseTime(run.status?.startedAt) ?? now;
  return compiled.filter((c) => isMeasurementDue(calculateNextMeasurementAt(c, resultOf(run.status, c.metric.name), startedAt, false), now));
}

export interface RunStatusUpdate {
  status: AnalysisRunStatus;
  /** Milliseconds until the next measurement is due; undefined when the run is completed. */
  requeueAfterMs?: number;
}

/**
 * The run's next status from the current one and the measurements just taken (by metric name).
 * A metric that is Failed, Error or Inconclusive ends the run at once (the other metrics are
 * terminated); `spec.terminate` ends it too. Timestamps already set are kept.
 */
export function calculateRunStatus(
  run: Pick<AnalysisRun, 'spec' | 'status'>,
  compiled: readonly CompiledMetric[],
  measurements: ReadonlyMap<string, Measurement>,
  now: Date,
): RunStatusUpdate {
  const previous = run.status ?? {};
  if (isCompleted(previous.phase)) return { status: previous };
  // A run starts when its first measurement does (measuring takes time: `now` is after it).
  const firstMeasurement = Math.min(...[...measurements.values()].map((m) => parseTime(m.startedAt)?.getTime() ?? Infinity));
  const startedAtText = previous.startedAt ?? new Date(Math.min(firstMeasurement, now.getTime())).toISOString();
  const startedAt = parseTime(startedAtText) ?? now;

  const results = compiled.map((c) => {
    const prev = resultOf(previous, c.metric.name);
    const m = measurements.get(c.metric.name);
    return m ? recordMeasurement(prev, c.metric.name, m, measurementRetentionFor(run.spec, c.metric.name)) : prev;
  });
  const assess = (terminating: boolean) => compiled.map((c, i) => calculateMetricPhase(c.metric, results[i], terminating));
  let assessments = assess(run.spec.terminate === true);
  const terminating = run.spec.terminate === true || assessments.some((a) => DECISIVE.has(a.phase));
  if (terminating) assessments = assess(true);

  const metricResults: MetricResult[] = compiled.map((c, i) => {
    const a = assessments[i] as MetricAssessment;
    const base = results[i] ?? { name: c.metric.name, count: 0, successful: 0, failed: 0, inconclusive: 0, error: 0, consecutiveError: 0 };
    return { ...base, name: c.metric.name, phase: a.phase, message: truncate(a.message, MAX_STATUS_MESSAGE_LENGTH) };
  });
  const phase = calculateRunPhase(metricResults.map((r) => r.phase));
  const status: AnalysisRunStatus = { ...previous, phase, startedAt: startedAtText, metricResults };
  status.message = truncate(explainRun(phase, metricResults, run.spec.terminate === true), MAX_STATUS_MESSAGE_LENGTH);
  delete status.nextMeasurementAt;
  if (isCompleted(phase)) {
    status.completedAt = previous.completedAt ?? now.toISOString();
    return { status };
  }
  const next = compiled
    .map((c, i) => calculateNextMeasurementAt(c, metricResults[i], startedAt, false))
    .filter((d): d is Date => d !== undefined)
    .reduce<Date | undefined>((min, d) => (min === undefined || d < min ? d : min), undefined);
  if (next === undefined) return { status };
  status.nextMeasurementAt = next.toISOString();
  const requeueAfterMs = boundedRequeue(next.getTime() - now.getTime());
  return requeueAfterMs === undefined ? { status } : { status, requeueAfterMs };
}

/** A run that cannot start (invalid spec, missing arg): Error, with the reason. */
export function invalidRunStatus(run: Pick<AnalysisRun, 'status'>, message: string, now: Date): AnalysisRunStatus {
  const previous = run.status ?? {};
  if (isCompleted(previous.phase)) return previous;
  const { nextMeasurementAt: _drop, ...rest } = previous;
  return {
    ...rest,
    phase: 'Error',
    message: truncate(message, MAX_STATUS_MESSAGE_LENGTH),
    startedAt: previous.startedAt ?? now.toISOString(),
    completedAt: previous.completedAt ?? now.toISOString(),
  };
}

/**
 * The run's message: for a failed, errored or inconclusive run the deciding metric(s), e.g.
 * `metric error-rate: 0.23 > 0.05 (failed 1 > failureLimit 0)`; otherwise every metric.
 */
export function explainRun(phase: AnalysisPhase, results: readonly MetricResult[], terminated = false): string {
  const line = (r: MetricResult) => `metric ${r.name}: ${r.message ?? r.phase}`;
  if (DECISIVE.has(phase))
    return results
      .filter((r) => r.phase === phase)
      .map(line)
      .join('; ');
  const body = results.map(line).join('; ');
  return terminated && phase === 'Successful' ? `terminated: ${body}` : body;
}

function resultOf(status: AnalysisRunStatus | undefined, name: string): MetricResult | undefined {
  return status?.metricResults?.find((r) => r.name === name);
}

function parseTime(text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}
