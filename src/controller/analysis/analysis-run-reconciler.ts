// The AnalysisRun reconciler: observe (the run, its Secrets), take the measurements that are due,
// decide (pure: src/core/analysis/verdicts.ts), act (one merge patch of the status subresource).
// Level-based and idempotent; the caller's work queue requeues after `requeueAfterMs`.
import type { Result } from '../../core/shared/result.ts';
import type { Logger } from 'pino';
import { AnalysisRun, type AnalysisPhase, type AnalysisRunStatus, type Measurement, type MetricProvider } from '../../api/analysis.ts';
import {
  decodeSecret,
  maskSecrets,
  resolveRunArgs,
  secretNamesOfArgs,
  substituteArgs,
  type ArgValue,
  type ArgValues,
  type SecretData,
} from '../../core/analysis/args.ts';
import {
  assessMeasurement,
  calculateRunStatus,
  compileMetrics,
  dueMetrics,
  errorMeasurement,
  invalidRunStatus,
  isCompleted,
  type CompiledMetric,
} from '../../core/analysis/verdicts.ts';
import { describeQueryError } from '../../core/analysis/metric-query.ts';
import type { Clock } from '../../ports/clock.ts';
import { kinds, type KubeClient, type KubeObject } from '../../ports/kube.ts';
import type { MetricsProviderFactory } from '../../ports/metrics.ts';

export interface AnalysisRunDeps {
  kube: Pick<KubeClient, 'get' | 'patch'>;
  metrics: MetricsProviderFactory;
  clock: Pick<Clock, 'now'>;
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
  const log = { namespace, name };
  if (obj.metadata?.deletionTimestamp) return { statusChanged: false };

  const parsed = AnalysisRun.safeParse(obj);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    const current = currentStatus(obj);
    if (isCompleted(current.phase)) return { statusChanged: false, phase: current.phase as AnalysisPhase };
    const status = invalidRunStatus({ status: current }, `invalid AnalysisRun: ${issues}`, deps.clock.now());
    deps.logger.warn({ ...log, issues }, 'Invalid AnalysisRun');
    return { statusChanged: await writeStatus(deps, obj, current, status), phase: 'Error' };
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
    deps.logger.warn({ ...log, problems }, 'Invalid analysis');
    return { statusChanged: await writeStatus(deps, obj, previous, status), phase: 'Error' };
  }

  const now = deps.clock.now();
  const due = dueMetrics(run, compiled.value, now);
  const measurements = new Map<string, Measurement>();
  if (due.length > 0) {
    const args = await resolveArgs(run, namespace, deps);
    const taken = await Promise.all(due.map((metric) => measure(metric, args, namespace, deps)));
    due.forEach((metric, i) => measurements.set(metric.metric.name, taken[i] as Measurement));
    for (const [metric, m] of measurements) deps.logger.debug({ ...log, metric, phase: m.phase, value: m.value }, 'Measurement taken');
  }

  const update = calculateRunStatus(run, compiled.value, measurements, deps.clock.now());
  const changed = await writeStatus(deps, obj, previous, update.status);
  if (changed && update.status.phase !== previous.phase) {
    deps.logger.info({ ...log, phase: update.status.phase, message: update.status.message }, 'AnalysisRun phase changed');
  }
  return {
    statusChanged: changed,
    ...(update.requeueAfterMs !== undefined ? { requeueAfterMs: update.requeueAfterMs } : {}),
    ...(update.status.phase ? { phase: update.status.phase } : {}),
  };
}

async function resolveArgs(run: AnalysisRun, namespace: string, deps: AnalysisRunDeps): Promise<Result<ArgValues>> {
  const secrets = new Map<string, Record<string, string> | undefined>();
  for (const secretName of new Set(secretNamesOfArgs(run.spec.args))) {
    try {
      const obj = await deps.kube.get(kinds.secret, namespace, secretName);
      if (obj === undefined) {
        secrets.set(secretName, undefined);
        continue;
      }
      const decoded = decodeSecret(obj);
      if (!decoded.ok) return { ok: false, error: `Secret ${namespace}/${secretName}: ${decoded.error}` };
      secrets.set(secretName, decoded.value);
    } catch (err) {
      return { ok: false, error: `cannot read Secret ${namespace}/${secretName}: ${(err as Error).message}` };
    }
  }
  return resolveRunArgs(run.spec.args, secrets as SecretData, namespace);
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
    const query = substituteArgs(rawQuery, values);
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
 * One merge patch of the status subresource when it changed (keys that disappeared are set to
 * null). The patch carries the resourceVersion that was read: a status computed from a stale
 * copy (an informer that has not seen the last write yet) is refused with a conflict instead of
 * overwriting a newer verdict, and the queue retries with the fresh object.
 */
async function writeStatus(deps: AnalysisRunDeps, run: KubeObject, before: AnalysisRunStatus, after: AnalysisRunStatus): Promise<boolean> {
  if (stableJson(before) === stableJson(after)) return false;
  const patch: Record<string, unknown> = { ...after };
  for (const key of Object.keys(before)) if (!(key in after)) patch[key] = null;
  const resourceVersion = run.metadata?.resourceVersion;
  const body = { ...(resourceVersion ? { metadata: { resourceVersion } } : {}), status: patch };
  await deps.kube.patch(kinds.analysisRun, run.metadata?.namespace, run.metadata?.name as string, body, { type: 'merge', subresource: 'status' });
  return true;
}

function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}
