// The AnalysisRun reconciler: observe (the run, its Secrets), take the measurements that are due,
// decide (pure: src/core/analysis/compile.ts, verdicts.ts, run-status.ts), act (one merge patch of the status subresource).
// Level-based and idempotent; the caller's work queue requeues after `requeueAfterMs`.
import type { Result } from '../../core/shared/result.ts';
import type { Logger } from 'pino';
import { AnalysisRun, type AnalysisPhase, type AnalysisRunStatus, type Measurement, type MetricProvider } from '../../api/analysis.ts';
import { maskSecrets, resolveRunArgs, secretNamesOfArgs, substituteArgs, substitutePromQL, type ArgValue, type ArgValues } from '../../core/analysis/args.ts';
import { assessMeasurement, errorMeasurement } from '../../core/analysis/verdicts.ts';
import { calculateRunStatus, dueMetrics, invalidRunStatus } from '../../core/analysis/run-status.ts';
import { compileMetrics, type CompiledMetric } from '../../core/analysis/compile.ts';
import { isCompleted } from '../../core/analysis/defaults.ts';
import { describeQueryError } from '../../core/analysis/metric-query.ts';
import type { Clock } from '../../ports/clock.ts';
import { formatIssues } from '../../core/shared/zod-issues.ts';
import { CONFLICT_REQUEUE_MS } from '../../core/shared/requeue.ts';
import { kinds, type KubeObject } from '../../ports/kube.ts';
import type { MetricsProviderFactory } from '../../ports/metrics.ts';
import type { SecretReader } from '../../ports/secrets.ts';
import type { StatusWriter } from '../runtime/status-writer.ts';

export interface AnalysisRunDeps {
  status: StatusWriter;
  secrets: SecretReader;
  metrics: MetricsProviderFactory;
  clock: Pick<Clock, 'now'>;
  /** The reconcile's logger (namespace, name and reconcileID already set). */
  logger: Pick<Logger, 'info' | 'warn' | 'debug'>;
}

export interface AnalysisRunReconcileResult {
  /** A status patch was written. */
  statusChanged: boolean;
  /** Reconcile again after this long (the next measurement is due); undefined when the run is completed. */
  requeueAfterMs?: number;
  /** The run's phase after this reconcile. */
  phase?: AnalysisPhase;
}

/**
 * Reconciles one AnalysisRun (as read from the API server or an informer): takes the
 * measurements that are due and writes ONE status patch when the status changed.
 *
 * Bad input never throws: an object that is not a valid AnalysisRun, an invalid condition, an
 * arg without a value end the run as Error with a message naming the problem; Prometheus being
 * down, slow or wrong, or a missing Secret, are error measurements. Only a failed status write
 * (an API error, or a conflict because `obj` was stale) rejects, so that the queue backs off and
 * retries.
 */
export async function reconcileAnalysisRun(obj: KubeObject, deps: AnalysisRunDeps): Promise<AnalysisRunReconcileResult> {
  const namespace = obj.metadata?.namespace;
  const name = obj.metadata?.name;
  if (!namespace || !name) {
    deps.logger.warn({ object: obj.metadata }, 'Skipping AnalysisRun without namespace or name');
    return { statusChanged: false };
  }
  if (obj.metadata?.deletionTimestamp) return { statusChanged: false };

  const parsed = AnalysisRun.safeParse(obj);
  if (!parsed.success) {
    const issues = formatIssues(parsed.error.issues, 3);
    const current = currentStatus(obj);
    if (isCompleted(current.phase)) return { statusChanged: false, phase: current.phase as AnalysisPhase };
    const status = invalidRunStatus({ status: current }, `invalid AnalysisRun: ${issues}`, deps.clock.now());
    deps.logger.warn({ issues }, 'Invalid AnalysisRun');
    return { ...(await writeStatus(deps, obj, status)), phase: 'Error' };
  }
  const run = parsed.data;
  const previous = run.status ?? {};
  if (isCompleted(previous.phase)) return { statusChanged: false, phase: previous.phase as AnalysisPhase };

  // Validate on first use: conditions compile, every arg can get a value.
  const literal = new Map<string, ArgValue>(
    (run.spec.args ?? []).flatMap((a) => (a.value !== undefined ? [[a.name, { value: a.value, secret: false }] as const] : [])),
  );
  const missing = (run.spec.args ?? []).filter((a) => a.value === undefined && !a.valueFrom?.secretKeyRef);
  const compiled = compileMetrics(run.spec, literal);
  if (missing.length > 0 || !compiled.ok) {
    const problems = [
      ...missing.map((a) =>
        a.valueFrom?.fieldRef
          ? `arg ${a.name}: fieldRef ${a.valueFrom.fieldRef.fieldPath} is only resolved when a Rollout starts the analysis`
          : `arg ${a.name} has no value`,
      ),
      ...(compiled.ok ? [] : [compiled.error]),
    ];
    const status = invalidRunStatus(run, `invalid analysis: ${problems.join('; ')}`, deps.clock.now());
    deps.logger.warn({ problems }, 'Invalid analysis');
    return { ...(await writeStatus(deps, obj, status)), phase: 'Error' };
  }

  const now = deps.clock.now();
  const due = dueMetrics(run, compiled.value, now);
  const measurements = new Map<string, Measurement>();
  if (due.length > 0) {
    const args = await resolveArgs(run, namespace, deps);
    const taken = await Promise.all(due.map((metric) => measure(metric, args, namespace, deps)));
    due.forEach((metric, i) => measurements.set(metric.metric.name, taken[i] as Measurement));
    for (const [metric, m] of measurements) deps.logger.debug({ metric, phase: m.phase, value: m.value }, 'Measurement taken');
  }

  const update = calculateRunStatus(run, compiled.value, measurements, deps.clock.now());
  const written = await writeStatus(deps, obj, update.status);
  if (written.requeueAfterMs !== undefined) return written;
  const changed = written.statusChanged;
  if (changed && update.status.phase !== previous.phase) {
    deps.logger.info({ phase: update.status.phase, message: update.status.message }, 'AnalysisRun phase changed');
  }
  return {
    statusChanged: changed,
    ...(update.requeueAfterMs !== undefined ? { requeueAfterMs: update.requeueAfterMs } : {}),
    ...(update.status.phase ? { phase: update.status.phase } : {}),
  };
}

async function resolveArgs(run: AnalysisRun, namespace: string, deps: AnalysisRunDeps): Promise<Result<ArgValues>> {
  const secrets = await deps.secrets.readAll(namespace, secretNamesOfArgs(run.spec.args), 'analysis');
  if (!secrets.ok) return secrets;
  return resolveRunArgs(run.spec.args, secrets.value, namespace);
}

/** One measurement; never rejects (anything unexpected is an error measurement). */
async function measure(c: CompiledMetric, args: Result<ArgValues>, namespace: string, deps: AnalysisRunDeps): Promise<Measurement> {
  const startedAt = deps.clock.now();
  const prometheus = c.metric.provider.prometheus;
  const rawQuery = prometheus?.query ?? '';
  const fail = (message: string, query = rawQuery) => errorMeasurement(message, { query, startedAt, finishedAt: deps.clock.now() });
  if (!args.ok) return fail(`cannot resolve args: ${args.error}`);
  const values = args.value;
  try {
    const query = substitutePromQL(rawQuery, values);
    if (!query.ok) return fail(`query: ${query.error}`);
    const provider = substituteProvider(c.metric.provider, values);
    if (!provider.ok) return fail(provider.error, query.value.display);
    const made = await deps.metrics.forMetric(provider.value, namespace);
    if (!made.ok) return fail(maskSecrets(describeQueryError(made.error), values), query.value.display);
    const time = deps.clock.now();
    const outcome = await made.provider.query({
      kind: c.kind,
      query: query.value.text,
      timeoutMs: c.timeoutMs,
      time,
      ...(c.range ? { range: { start: new Date(time.getTime() - c.range.rangeMs), end: time, stepMs: c.range.stepMs } } : {}),
    });
    const m = assessMeasurement(c, outcome, { query: query.value.display, startedAt, finishedAt: deps.clock.now() });
    return { ...m, message: maskSecrets(m.message, values) };
  } catch (err) {
    return fail(`internal error: ${maskSecrets((err as Error).message ?? String(err), values)}`);
  }
}

/** `{{args.x}}` in the address and header values, as in the query. */
function substituteProvider(provider: MetricProvider, args: ArgValues): Result<MetricProvider> {
  const p = provider.prometheus;
  if (!p) return { ok: true, value: provider };
  const address = substituteArgs(p.address, args);
  if (!address.ok) return { ok: false, error: `address: ${address.error}` };
  const headers = [];
  for (const h of p.headers ?? []) {
    if (h.value === undefined) {
      headers.push(h);
      continue;
    }
    const value = substituteArgs(h.value, args);
    if (!value.ok) return { ok: false, error: `header ${h.key}: ${value.error}` };
    headers.push({ ...h, value: value.value.text });
  }
  return { ok: true, value: { ...provider, prometheus: { ...p, address: address.value.text, ...(p.headers ? { headers } : {}) } } };
}

function currentStatus(obj: KubeObject): AnalysisRunStatus {
  const status = obj.status;
  return typeof status === 'object' && status !== null && !Array.isArray(status) ? (status as AnalysisRunStatus) : {};
}

/**
 * The run's status through the one status writer: nothing sent when unchanged; a stale copy (an
 * informer that has not seen the last write yet) is refused by the API server, never overwrites
 * a newer verdict, and the run is looked at again on fresh state.
 */
async function writeStatus(deps: AnalysisRunDeps, run: KubeObject, next: AnalysisRunStatus): Promise<AnalysisRunReconcileResult> {
  const outcome = await deps.status.write(kinds.analysisRun, run, next);
  if (outcome === 'conflict') return { statusChanged: false, requeueAfterMs: CONFLICT_REQUEUE_MS };
  return { statusChanged: outcome === 'written' };
}
