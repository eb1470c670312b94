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
import { substituteWeb } from '../../core/analysis/web-request.ts';
import { addressBeforeArgs } from '../../core/analysis/address-policy.ts';
import { redactText } from '../../core/shared/redact.ts';
import { maskValues } from '../../core/shared/mask.ts';
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
    // An address the controller's policy refuses is an error measurement before any Secret (an
    // arg's, a header's) is read for it: checked with the literal args, when they make the address.
    const refused = due.map((metric) => refusedAddress(metric, literal, deps));
    const allowed = due.filter((_, i) => refused[i] === undefined);
    for (const [i, metric] of due.entries()) {
      const error = refused[i];
      if (error) measurements.set(metric.metric.name, errorMeasurement(error.message, { query: error.query, startedAt: now, finishedAt: deps.clock.now() }));
    }
    const args = allowed.length > 0 ? await resolveArgs(run, namespace, deps) : undefined;
    const taken = await Promise.all(allowed.map((metric) => measure(metric, args as Result<ArgValues>, namespace, deps)));
    allowed.forEach((metric, i) => measurements.set(metric.metric.name, taken[i] as Measurement));
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

/** The policy's refusal of a metric's address, when the literal args already make the address. */
function refusedAddress(c: CompiledMetric, literal: ArgValues, deps: AnalysisRunDeps): { message: string; query: string } | undefined {
  if (!deps.metrics.checkAddress) return undefined;
  const request = prepare(c, literal, { partial: true });
  if (!request.ok) return undefined; // measure() reports it
  const { web, prometheus } = request.value.provider;
  // Args from Secrets are not read yet: judged now only if no value of theirs could change the origin.
  const address = addressBeforeArgs(web?.url ?? prometheus?.address ?? '');
  if (address === undefined) return undefined; // checked by the factory once the values are in
  const error = deps.metrics.checkAddress(
    web ? { web: { ...web, url: address } } : { prometheus: { ...(prometheus as NonNullable<typeof prometheus>), address } },
  );
  return error ? { message: describeQueryError(error, c.provider), query: request.value.display } : undefined;
}

interface PreparedRequest {
  /** The provider block with the args in place. */
  provider: MetricProvider;
  /** What the adapter sends as the query (PromQL; a web metric's `METHOD url`). */
  query: string;
  /** The query as recorded (Secret values masked). */
  display: string;
}

/** `{{args.x}}` substituted in everything a provider sends. */
function prepare(c: CompiledMetric, values: ArgValues, opts: { partial?: boolean } = {}): Result<PreparedRequest, { message: string; display?: string }> {
  const web = c.metric.provider.web;
  if (c.provider === 'web' && web) {
    const request = substituteWeb(web, values, opts);
    if (!request.ok) return { ok: false, error: { message: request.error } };
    return { ok: true, value: { provider: { web: request.value.web }, query: request.value.display, display: request.value.display } };
  }
  const query = substitutePromQL(c.metric.provider.prometheus?.query ?? '', values, opts);
  if (!query.ok) return { ok: false, error: { message: `query: ${query.error}` } };
  const provider = substituteProvider(c.metric.provider, values, opts);
  if (!provider.ok) return { ok: false, error: { message: provider.error, display: query.value.display } };
  return { ok: true, value: { provider: provider.value, query: query.value.text, display: query.value.display } };
}

/** What a measurement records as its query before the args are in place. */
function rawQuery(c: CompiledMetric): string {
  const web = c.metric.provider.web;
  if (c.provider === 'web' && web) return `${web.method ?? 'GET'} ${redactText(web.url)}`;
  return c.metric.provider.prometheus?.query ?? '';
}

/** One measurement; never rejects (anything unexpected is an error measurement). */
async function measure(c: CompiledMetric, args: Result<ArgValues>, namespace: string, deps: AnalysisRunDeps): Promise<Measurement> {
  const startedAt = deps.clock.now();
  const fail = (message: string, query = rawQuery(c)) => errorMeasurement(message, { query, startedAt, finishedAt: deps.clock.now() });
  if (!args.ok) return fail(`cannot resolve args: ${args.error}`);
  const values = args.value;
  // Secret values are masked as written and URL-encoded (a web metric may put them in its URL),
  // with the values the provider read from Secrets (a server may echo a header in its reply).
  const secrets = [...values.values()].filter((a) => a.secret).map((a) => a.value);
  let clean = (text: string) => (c.provider === 'web' ? redactText(text, secrets) : maskSecrets(text, values));
  try {
    const request = prepare(c, values);
    if (!request.ok) return fail(clean(request.error.message), request.error.display);
    const { provider, query, display } = request.value;
    const made = await deps.metrics.forMetric(provider, namespace);
    if (!made.ok) return fail(clean(describeQueryError(made.error, c.provider)), display);
    const read = made.secrets ?? [];
    if (read.length > 0) {
      const before = clean;
      clean = (text) => maskValues(before(text), read);
    }
    const time = deps.clock.now();
    const outcome = await made.provider.query({
      kind: c.kind,
      query,
      timeoutMs: c.timeoutMs,
      time,
      ...(c.range ? { range: { start: new Date(time.getTime() - c.range.rangeMs), end: time, stepMs: c.range.stepMs } } : {}),
    });
    const m = assessMeasurement(c, outcome, { query: display, startedAt, finishedAt: deps.clock.now() });
    return { ...m, message: clean(m.message), ...(m.value !== undefined ? { value: clean(m.value) } : {}) };
  } catch (err) {
    return fail(`internal error: ${clean((err as Error).message ?? String(err))}`);
  }
}

/** `{{args.x}}` in the address and header values, as in the query. */
function substituteProvider(provider: MetricProvider, args: ArgValues, opts: { partial?: boolean }): Result<MetricProvider> {
  const p = provider.prometheus;
  if (!p) return { ok: true, value: provider };
  const address = substituteArgs(p.address, args, opts);
  if (!address.ok) return { ok: false, error: `address: ${address.error}` };
  const headers = [];
  for (const h of p.headers ?? []) {
    if (h.value === undefined) {
      headers.push(h);
      continue;
    }
    const value = substituteArgs(h.value, args, opts);
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
