// `kubectl sluice get rollout NAME`: a summary, then the tree Rollout -> revisions (ReplicaSets)
// -> pods and AnalysisRuns (-> metrics), in aligned columns. Pure: a view and a clock in, text out.
import type { AnalysisRunView, MetricView, RevisionView, RolloutView } from '../model/rollout.ts';
import { age, orDash, relative, shortCommit, trimMillis } from './format.ts';
import type { Style } from './style.ts';
import { renderTable } from './table.ts';

interface Row {
  prefix: string;
  name: string;
  kind: string;
  status: string;
  age: string;
  info: string;
}

export function renderRolloutTree(view: RolloutView, now: Date, style: Style): string {
  return `${renderSummary(view, now, style)}\n${renderRows(view, now, style)}`;
}

function renderSummary(view: RolloutView, now: Date, style: Style): string {
  const lines: Array<[string, string]> = [];
  lines.push(['Name', `${style.bold(view.name)} (namespace ${view.namespace})`]);
  lines.push(['Phase', `${style.phase(view.phase)}${view.stale ? style.yellow(' (not yet observed: status is for an older generation)') : ''}`]);
  if (view.message) lines.push(['Message', view.message]);
  const strategy = view.strategy === 'canary' ? 'canary' : 'blue-green';
  lines.push(['Strategy', view.step ? `${strategy}, step ${stepText(view.step.index, view.step.count)} (${view.step.description})` : strategy]);
  if (view.desiredWeight !== undefined || view.actualWeight !== undefined) {
    const honest =
      view.desiredWeight !== undefined && view.actualWeight !== undefined && view.desiredWeight !== view.actualWeight
        ? style.dim(' (replica counts cannot carry the desired weight exactly)')
        : '';
    lines.push(['Weight', `desired ${orDash(view.desiredWeight)}%, actual ${orDash(view.actualWeight)}%${honest}`]);
  }
  const r = view.replicas;
  lines.push(['Replicas', `desired ${r.desired}, current ${r.current}, updated ${r.updated}, ready ${r.ready}, available ${r.available}`]);
  const revision = view.revisions.find((x) => x.hash === view.currentHash);
  if (view.currentHash)
    lines.push([
      'Revision',
      `${view.currentRevision ?? revision?.revision ?? '?'} (${view.currentHash})` +
        (view.stableHash === view.currentHash ? ', stable' : `, stable is ${orDash(view.stableHash)}`),
    ]);
  if (view.gitRevision || view.gitSync) lines.push(['Git', `commit ${orDash(view.gitRevision)}${view.gitSync ? ` from GitSync ${view.gitSync}` : ''}`]);
  if (view.analysis)
    lines.push([
      'Analysis',
      `${view.analysis.name} (${view.analysis.kind}): ${style.phase(view.analysis.phase)}${view.analysis.message ? ` ${view.analysis.message}` : ''}`,
    ]);
  if (view.waitingFor) lines.push(['Waiting for', view.waitingFor]);
  if (view.createdAt) lines.push(['Age', age(view.createdAt, now)]);
  const width = Math.max(...lines.map(([k]) => k.length)) + 2;
  return lines.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`).join('\n') + '\n';
}

const stepText = (index: number, count: number) => `${Math.min(index + 1, count)}/${count}`;

function renderRows(view: RolloutView, now: Date, style: Style): string {
  const rows: Row[] = [];
  const rolloutInfo = [view.step ? `step ${stepText(view.step.index, view.step.count)}` : undefined, weightText(view)].filter(Boolean).join(', ');
  rows.push({ prefix: '', name: view.name, kind: 'Rollout', status: style.phase(view.phase), age: age(view.createdAt, now), info: rolloutInfo });
  view.revisions.forEach((rev, i) => {
    const last = i === view.revisions.length - 1;
    rows.push(...revisionRows(rev, last, now, style));
  });
  const table = renderTable(
    ['NAME', 'KIND', 'STATUS', 'AGE', 'INFO'],
    rows.map((r) => [`${r.prefix}${r.name}`, r.kind, r.status, r.age, r.info]),
  );
  return table;
}

function weightText(view: RolloutView): string | undefined {
  if (view.desiredWeight === undefined && view.actualWeight === undefined) return undefined;
  return `weight ${orDash(view.desiredWeight)}/${orDash(view.actualWeight)}`;
}

function revisionRows(rev: RevisionView, last: boolean, now: Date, style: Style): Row[] {
  const rows: Row[] = [];
  const marks = rev.marks.map((m) => (m === 'stable' || m === 'active' ? style.green(m) : style.cyan(m)));
  const info = [
    `revision ${rev.revision}`,
    ...marks,
    ...rev.images,
    ...(rev.gitRevision ? [`commit ${shortCommit(rev.gitRevision)}`] : []),
    ...(rev.scaleDownAt ? [`scale-down ${relative(rev.scaleDownAt, now)}`] : []),
  ].join(', ');
  const status = rev.replicas === 0 && rev.available === 0 ? style.dim('scaled down') : `${rev.available}/${rev.replicas} available`;
  rows.push({ prefix: last ? '└─ ' : '├─ ', name: rev.name, kind: 'ReplicaSet', status, age: age(rev.createdAt, now), info });
  const indent = last ? '   ' : '│  ';
  const children: Array<(isLast: boolean) => Row[]> = [
    ...rev.pods.map((pod) => (isLast: boolean) => [
      {
        prefix: `${indent}${isLast ? '└─ ' : '├─ '}`,
        name: pod.name,
        kind: 'Pod',
        status: pod.terminating ? style.dim('Terminating') : pod.ready ? style.green(pod.phase) : style.yellow(pod.phase),
        age: age(pod.createdAt, now),
        info: [`ready ${pod.containers}`, ...(pod.restarts ? [`restarts ${pod.restarts}`] : [])].join(', '),
      },
    ]),
    ...rev.analysisRuns.map((run) => (isLast: boolean) => runRows(run, `${indent}${isLast ? '└─ ' : '├─ '}`, `${indent}${isLast ? '   ' : '│  '}`, now, style)),
  ];
  children.forEach((child, i) => rows.push(...child(i === children.length - 1)));
  return rows;
}

function runRows(run: AnalysisRunView, prefix: string, indent: string, now: Date, style: Style): Row[] {
  const where =
    run.kind === 'step' && run.stepIndex !== undefined ? `step analysis at step ${run.stepIndex + 1}` : run.kind ? `${run.kind} analysis` : 'analysis';
  const next = run.nextMeasurementAt ? `next measurement ${relative(run.nextMeasurementAt, now)}` : undefined;
  const rows: Row[] = [
    {
      prefix,
      name: run.name,
      kind: 'AnalysisRun',
      status: style.phase(run.phase),
      age: age(run.createdAt, now),
      info: [where, ...(run.terminated && run.phase !== 'Failed' && run.phase !== 'Error' ? ['terminated'] : []), ...(next ? [next] : [])].join(', '),
    },
  ];
  run.metrics.forEach((metric, i) => {
    const last = i === run.metrics.length - 1;
    rows.push({
      prefix: `${indent}${last ? '└─ ' : '├─ '}`,
      name: metric.name,
      kind: 'Metric',
      status: style.phase(metric.phase),
      age: '',
      info: metricInfo(metric),
    });
  });
  return rows;
}

function metricInfo(metric: MetricView): string {
  const last = metric.measurements[metric.measurements.length - 1];
  const counts = `${metric.count} measured${metric.error ? `, ${metric.error} errors` : ''}`;
  if (!last) return counts;
  return `${counts}; last ${last.noData ? 'no data' : orDash(last.value)} at ${trimMillis(last.finishedAt)}: ${last.message}`;
}
