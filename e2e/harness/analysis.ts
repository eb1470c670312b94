// Helpers for analysis scenarios: AnalysisTemplates over the traffic helper's series, the
// Rollout-side `{templates, args}` block, and snapshots of AnalysisRuns with their
// measurements (for assertions and for failure messages).
//
//   await s.apply(manifest(errorRateTemplate(env, ns), canaryServices(), canaryRollout({ steps: [..., analysisStep()] })));
//   const runs = await analysisRuns(k, ns);
import assert from 'node:assert/strict';
import type { AttachedEnv } from './attach.ts';
import type { Kubectl } from './kubectl.ts';
import { waitFor } from './wait.ts';

type Obj = Record<string, any>;

/** Name of the arg every template here takes: the pod-template hash to judge. */
export const HASH_ARG = 'canary-hash';

/**
 * Error ratio of one revision in one namespace, from the traffic helper's counters.
 * `{{args.canary-hash}}` is substituted by the controller. The window is short (10s)
 * so that a version turned bad at runtime shows within seconds; `initialDelay` on the
 * metric keeps the first measurement after the window has samples.
 */
export function errorRatioQuery(ns: string, window = '10s'): string {
  const sel = `namespace="${ns}",rollouts_pod_template_hash="{{args.${HASH_ARG}}}"`;
  return `sum(rate(sluice_demo_errors_total{${sel}}[${window}])) / sum(rate(sluice_demo_requests_total{${sel}}[${window}]))`;
}

export interface TemplateOptions {
  name?: string;
  /** Prometheus base URL; default the suite's Prometheus. */
  address?: string;
  /** Extra or overriding fields of the metric (interval, count, initialDelay, limits, conditions…). */
  metric?: Obj;
  query?: string;
}

/**
 * An AnalysisTemplate `error-rate` (by default) with one metric `error-rate`: fails above 5%
 * errors, 3 measurements 2s apart after a 5s initial delay (so rate() has samples).
 */
export function errorRateTemplate(env: AttachedEnv, ns: string, o: TemplateOptions = {}): Obj {
  return {
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'AnalysisTemplate',
    metadata: { name: o.name ?? 'error-rate' },
    spec: {
      args: [{ name: HASH_ARG }],
      metrics: [
        {
          name: 'error-rate',
          initialDelay: '5s',
          interval: '2s',
          count: 3,
          failureCondition: 'result[0] > 0.05',
          provider: { prometheus: { address: o.address ?? env.descriptor.prometheus.url, timeout: 5, query: o.query ?? errorRatioQuery(ns) } },
          ...o.metric,
        },
      ],
    },
  };
}

/** The Rollout side: `{templates: [{templateName}], args: [canary-hash <- Latest]}`. */
export function analysisRef(templateName = 'error-rate', extra: Obj = {}): Obj {
  return { templates: [{ templateName }], args: [{ name: HASH_ARG, valueFrom: { podTemplateHashValue: 'Latest' } }], ...extra };
}

/** A canary `analysis` step. */
export function analysisStep(templateName = 'error-rate'): Obj {
  return { analysis: analysisRef(templateName) };
}

export interface MeasurementView {
  phase: string;
  value?: string;
  message: string;
  noData?: boolean;
  query?: string;
  startedAt: string;
  finishedAt: string;
}

export interface RunView {
  name: string;
  kind: string;
  hash: string;
  phase: string;
  message: string;
  terminate: boolean;
  created: string;
  metrics: Array<{
    name: string;
    phase: string;
    count: number;
    successful: number;
    failed: number;
    inconclusive: number;
    error: number;
    consecutiveError: number;
    measurements: MeasurementView[];
  }>;
  raw: Obj;
}

/** The namespace's AnalysisRuns, oldest first. */
export async function analysisRuns(k: Kubectl, ns: string): Promise<RunView[]> {
  const list = await k.json<{ items: Obj[] }>(['get', 'analysisruns.sluice.dev', '-n', ns]);
  return list.items
    .map((r) => ({
      name: r.metadata.name,
      kind: r.metadata.labels?.['sluice.dev/analysis-kind'] ?? '',
      hash: r.metadata.labels?.['rollouts-pod-template-hash'] ?? '',
      phase: r.status?.phase ?? '',
      message: r.status?.message ?? '',
      terminate: r.spec?.terminate === true,
      created: r.metadata.creationTimestamp,
      metrics: (r.status?.metricResults ?? []).map((m: Obj) => ({
        name: m.name,
        phase: m.phase,
        count: m.count ?? 0,
        successful: m.successful ?? 0,
        failed: m.failed ?? 0,
        inconclusive: m.inconclusive ?? 0,
        error: m.error ?? 0,
        consecutiveError: m.consecutiveError ?? 0,
        measurements: m.measurements ?? [],
      })),
      raw: r,
    }))
    .sort((a, b) => a.created.localeCompare(b.created) || a.name.localeCompare(b.name));
}

/** One line per run and its measurements, for assertion messages. */
export function describeRuns(runs: RunView[]): string {
  return runs
    .map(
      (r) =>
        `${r.name} [${r.kind} ${r.hash}] ${r.phase}${r.terminate ? ' (terminate)' : ''}: ${r.message} ` +
        r.metrics
          .map((m) => {
            const measured = m.measurements.map((x) => `${x.phase}(${x.value ?? ''} ${x.message})`).join(', ');
            return `{${m.name} ${m.phase} ok=${m.successful} failed=${m.failed} inconcl=${m.inconclusive} err=${m.error}: ${measured}}`;
          })
          .join(' '),
    )
    .join('\n    ');
}

/** Waits until the run of `kind` satisfies `fn` (assertions); returns it. */
export async function waitRun(k: Kubectl, ns: string, kind: string, describe: string, fn: (r: RunView) => void, timeoutMs = 30_000): Promise<RunView> {
  let last = '';
  try {
    return await waitFor(
      describe,
      async () => {
        const runs = await analysisRuns(k, ns);
        last = describeRuns(runs);
        const mine = runs.filter((r) => r.kind === kind);
        assert.ok(mine.length > 0, `no ${kind} AnalysisRun yet`);
        const r = mine[mine.length - 1]!;
        fn(r);
        return r;
      },
      { timeoutMs, intervalMs: 300 },
    );
  } catch (err) {
    (err as Error).message += `\n  runs: ${last}`;
    throw err;
  }
}

/** The numeric value of a measurement as the conditions saw it (`[0.5]` -> 0.5). */
export function measuredValue(m: MeasurementView): number {
  const v = (m.value ?? '').replace(/^\[|\]$/g, '');
  return Number(v);
}

/** Ready pods of a namespace the traffic helper is sending requests to, by image tag. */
export async function trafficByTag(env: AttachedEnv, ns: string): Promise<Record<string, { pods: number; requests: number; errors: number }>> {
  const st = await env.traffic.state();
  const out: Record<string, { pods: number; requests: number; errors: number }> = {};
  for (const p of st.pods.filter((x) => x.namespace === ns && x.ready)) {
    const t = (out[p.imageTag] ??= { pods: 0, requests: 0, errors: 0 });
    t.pods++;
    t.requests += p.requests;
    t.errors += p.errors;
  }
  return out;
}
