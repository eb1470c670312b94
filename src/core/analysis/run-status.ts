// A run's timing (when each metric is measured next) and its status computed whole from the
// measurements just taken, with the explanation a person reads. Pure.
import type { AnalysisPhase, AnalysisRun, AnalysisRunStatus, Measurement, MetricResult } from '../../api/analysis.ts';
import { boundedRequeue } from '../shared/requeue.ts';
import { truncate } from '../shared/truncate.ts';
import { DECISIVE, DEFAULT_ERROR_RETRY_MS, effectiveCount, isCompleted, MAX_STATUS_MESSAGE_LENGTH } from './defaults.ts';
import type { CompiledMetric } from './compile.ts';
import { calculateMetricPhase, calculateRunPhase, lastOf, measurementRetentionFor, recordMeasurement, type MetricAssessment } from './verdicts.ts';

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
