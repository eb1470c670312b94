// `kubectl sluice analysis NAME`: why an AnalysisRun decided what it did, metric by metric and
// measurement by measurement (query as sent with Secrets masked, value, condition, verdict,
// time, and the limit that tripped). Pure.
import type { Metric } from '../../api/analysis.ts';
import type { AnalysisRunView, MetricView } from '../model/rollout.ts';
import { orDash, trimMillis } from './format.ts';
import type { Style } from './style.ts';
import { renderTable } from './table.ts';
import { redactText } from '../../core/shared/redact.ts';

// The documented defaults of a metric (src/api/analysis.ts, docs/analysis.md), shown beside
// the limits a template leaves unset.
const DEFAULTS = { failureLimit: 0, inconclusiveLimit: 0, consecutiveErrorLimit: 4, noDataPolicy: 'Inconclusive' } as const;

export function renderAnalysis(run: AnalysisRunView, style: Style): string {
  const out: string[] = [];
  const where =
    run.kind === 'step' && run.stepIndex !== undefined ? `step analysis at step ${run.stepIndex + 1}` : run.kind ? `${run.kind} analysis` : 'analysis';
  out.push(`AnalysisRun ${style.bold(run.name)} (namespace ${run.namespace})${run.rollout ? `: ${where} of Rollout ${run.rollout}` : ''}`);
  out.push(`Phase:      ${style.phase(run.phase)}${run.terminated && run.phase === 'Successful' ? ' (terminated)' : ''}`);
  if (run.message) out.push(`Decision:   ${run.message}`);
  if (run.hash) out.push(`Revision:   ${run.hash}`);
  if (run.startedAt) out.push(`Started:    ${trimMillis(run.startedAt)}`);
  if (run.completedAt) out.push(`Completed:  ${trimMillis(run.completedAt)}`);
  if (run.nextMeasurementAt) out.push(`Next:       ${trimMillis(run.nextMeasurementAt)}`);
  for (const metric of run.metrics) {
    out.push('');
    out.push(
      ...renderMetric(
        metric,
        run.spec?.metrics?.find((m) => m.name === metric.name),
        style,
      ),
    );
  }
  return out.join('\n') + '\n';
}

function renderMetric(result: MetricView, spec: Metric | undefined, style: Style): string[] {
  const out: string[] = [];
  out.push(`Metric ${style.bold(result.name)}: ${style.phase(result.phase)}${result.message ? ` - ${result.message}` : ''}`);
  const tripped = /\(((?:failed|inconclusive) \d+ > \w+Limit \d+|\d+ consecutive errors > consecutiveErrorLimit \d+)\)$/.exec(result.message ?? '');
  if (tripped) out.push(`  Limit hit:  ${tripped[1]}`);
  if (spec) {
    const conditions = [
      spec.successCondition !== undefined ? `success when ${spec.successCondition}` : undefined,
      spec.failureCondition !== undefined ? `failure when ${spec.failureCondition}` : undefined,
    ].filter(Boolean);
    out.push(`  Conditions: ${conditions.join('; ') || '(none)'}`);
    const limit = (key: keyof typeof DEFAULTS) => `${key} ${spec[key] ?? `${DEFAULTS[key]} (default)`}`;
    out.push(`  Limits:     ${[limit('failureLimit'), limit('inconclusiveLimit'), limit('consecutiveErrorLimit'), limit('noDataPolicy')].join(', ')}`);
    const schedule = [spec.count !== undefined ? `count ${spec.count}` : undefined, spec.interval ? `every ${spec.interval}` : undefined]
      .filter(Boolean)
      .join(', ');
    if (schedule) out.push(`  Schedule:   ${schedule}${spec.initialDelay ? `, first after ${spec.initialDelay}` : ''}`);
    if (spec.provider.prometheus) out.push(`  Prometheus: ${spec.provider.prometheus.address}`);
    const web = spec.provider.web;
    if (web) out.push(`  Web:        ${web.method ?? 'GET'} ${redactText(web.url)}${web.jsonPath ? ` ${web.jsonPath}` : ''}`);
  }
  out.push(
    `  Counts:     ${result.count} measured: ${result.successful} successful, ${result.failed} failed, ` +
      `${result.inconclusive} inconclusive, ${result.error} errors (${result.consecutiveError} consecutive)`,
  );
  const queries = [...new Set(result.measurements.map((m) => m.query).filter((q): q is string => q !== undefined))];
  if (queries.length === 1) out.push(`  Query:      ${oneLine(queries[0] as string)}`);
  if (result.measurements.length === 0) {
    out.push('  No measurements yet.');
    return out;
  }
  const rows = result.measurements.map((m, i) => [
    String(i + 1),
    trimMillis(m.finishedAt),
    m.noData ? 'no data' : orDash(m.value),
    style.phase(m.phase),
    orDash(m.condition),
    m.message,
    ...(queries.length > 1 ? [oneLine(m.query ?? '')] : []),
  ]);
  const headers = ['#', 'TIME', 'VALUE', 'VERDICT', 'CONDITION', 'WHY', ...(queries.length > 1 ? ['QUERY'] : [])];
  out.push(
    ...renderTable(headers, rows)
      .trimEnd()
      .split('\n')
      .map((line) => `  ${line}`),
  );
  return out;
}

const oneLine = (text: string) => text.replace(/\s*\n\s*/g, ' ').trim();
