// AnalysisRun metrics from the AnalysisRun cache (the runs' status is the record of every
// measurement): run phase, and per metric the last measured value and the verdict counts.
// A deleted run's series are removed.
import { Gauge, type Registry } from 'prom-client';
import { AnalysisRunStatus, ROLLOUT_LABEL, ANALYSIS_KIND_LABEL } from '../../api/analysis.ts';
import type { Informer, KubeObject } from '../../ports/kube.ts';
import { removeSeries } from '../runtime/remove-series.ts';

const PHASES = ['Pending', 'Running', 'Successful', 'Inconclusive', 'Error', 'Failed'] as const;
const VERDICTS = [
  ['successful', 'Successful'],
  ['failed', 'Failed'],
  ['inconclusive', 'Inconclusive'],
  ['error', 'Error'],
] as const;

/** The first number of a measured value as recorded ("[0.23]", "0.5", "[]"), or undefined. */
export function firstNumber(value: string | undefined): number | undefined {
  const match = value?.match(/-?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?|NaN|[+-]?Inf/i);
  if (!match) return undefined;
  const text = match[0].toLowerCase();
  if (text === 'nan') return Number.NaN;
  if (text.endsWith('inf')) return text.startsWith('-') ? -Infinity : Infinity;
  return Number(match[0]);
}

export function watchAnalysisMetrics(registry: Registry, runs: Informer): void {
  const base = ['namespace', 'analysis_run', 'rollout'];
  const phase = new Gauge({
    name: 'sluice_analysis_run_phase',
    help: '1 for the phase an AnalysisRun is in, 0 for the others',
    labelNames: [...base, 'kind', 'phase'],
    registers: [registry],
  });
  const value = new Gauge({
    name: 'sluice_analysis_metric_value',
    help: 'The last measured value of an analysis metric (the first number of the result)',
    labelNames: [...base, 'metric'],
    registers: [registry],
  });
  const measurements = new Gauge({
    name: 'sluice_analysis_metric_measurements',
    help: 'Measurements of an analysis metric by verdict (Successful, Failed, Inconclusive, Error)',
    labelNames: [...base, 'metric', 'verdict'],
    registers: [registry],
  });
  const consecutiveErrors = new Gauge({
    name: 'sluice_analysis_metric_consecutive_errors',
    help: 'Errors in a row of an analysis metric (the run errors when they exceed consecutiveErrorLimit)',
    labelNames: [...base, 'metric'],
    registers: [registry],
  });
  const all = [phase, value, measurements, consecutiveErrors];
  const update = (obj: KubeObject) => {
    const labels = {
      namespace: obj.metadata?.namespace ?? '',
      analysis_run: obj.metadata?.name ?? '',
      rollout: obj.metadata?.labels?.[ROLLOUT_LABEL] ?? '',
    };
    const parsed = AnalysisRunStatus.safeParse((obj as { status?: unknown }).status ?? {});
    if (!parsed.success) return;
    const s = parsed.data;
    const kind = obj.metadata?.labels?.[ANALYSIS_KIND_LABEL] ?? '';
    for (const p of PHASES) phase.set({ ...labels, kind, phase: p }, (s.phase ?? 'Pending') === p ? 1 : 0);
    for (const m of s.metricResults ?? []) {
      const metric = { ...labels, metric: m.name };
      for (const [field, verdict] of VERDICTS) measurements.set({ ...metric, verdict }, m[field]);
      consecutiveErrors.set(metric, m.consecutiveError);
      const last = [...(m.measurements ?? [])].reverse().find((x) => x.value !== undefined && firstNumber(x.value) !== undefined);
      const v = firstNumber(last?.value);
      if (v !== undefined) value.set(metric, v);
    }
  };
  runs.onChange((type, obj) => {
    if (type === 'DELETED') {
      for (const m of all) void removeSeries(m, { namespace: obj.metadata?.namespace ?? '', analysis_run: obj.metadata?.name ?? '' });
      return;
    }
    update(obj);
  });
}
