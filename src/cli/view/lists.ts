// `kubectl sluice list rollouts|gitsyncs|analysisruns`: tables like `kubectl get`, with -A adding
// a NAMESPACE column and -o wide more columns. Pure.
import type { GitSync } from '../../api/git-sync.ts';
import type { Rollout } from '../../api/rollout.ts';
import type { KubeObject } from '../../ports/kube.ts';
import { analysisRunView } from '../model/rollout.ts';
import { age, orDash, relative, shortCommit } from './format.ts';
import type { Style } from './style.ts';
import { renderTable } from './table.ts';

export interface ListOptions {
  allNamespaces: boolean;
  wide: boolean;
  now: Date;
  style: Style;
}

type Column<T> = { header: string; wide?: boolean; cell: (item: T) => string };

function table<T extends KubeObject>(items: readonly T[], columns: Array<Column<T>>, opts: ListOptions): string {
  if (items.length === 0) return '';
  const shown: Array<Column<T>> = [
    ...(opts.allNamespaces ? [{ header: 'NAMESPACE', cell: (o: T) => o.metadata?.namespace ?? '' }] : []),
    ...columns.filter((c) => opts.wide || !c.wide),
  ];
  const sorted = [...items].sort(
    (a, b) => (a.metadata?.namespace ?? '').localeCompare(b.metadata?.namespace ?? '') || (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''),
  );
  return renderTable(
    shown.map((c) => c.header),
    sorted.map((item) => shown.map((c) => c.cell(item))),
  );
}

/** What `list` prints when there is nothing, on stderr as kubectl does. */
export function emptyListMessage(kind: string, namespace: string | undefined): string {
  return namespace === undefined ? `No ${kind} found.\n` : `No ${kind} found in namespace ${namespace}.\n`;
}

export function renderRolloutList(items: readonly KubeObject[], opts: ListOptions): string {
  const s = (o: KubeObject) => ((o as unknown as Rollout).status ?? {}) as NonNullable<Rollout['status']>;
  const spec = (o: KubeObject) => (o as unknown as Rollout).spec;
  const columns: Array<Column<KubeObject>> = [
    { header: 'NAME', cell: (o) => o.metadata?.name ?? '' },
    { header: 'STRATEGY', cell: (o) => (spec(o)?.strategy?.blueGreen ? 'blueGreen' : 'canary') },
    { header: 'PHASE', cell: (o) => opts.style.phase(s(o).phase ?? 'Unknown') },
    {
      header: 'STEP',
      cell: (o) => {
        const count = spec(o)?.strategy?.canary?.steps?.length;
        const index = s(o).currentStepIndex;
        return count && index !== undefined ? `${Math.min(index + 1, count)}/${count}` : '-';
      },
    },
    { header: 'WEIGHT', cell: (o) => orDash(s(o).desiredWeight) },
    { header: 'ACTUAL', cell: (o) => orDash(s(o).actualWeight) },
    { header: 'REVISION', cell: (o) => orDash(s(o).currentRevision) },
    { header: 'COMMIT', cell: (o) => orDash(shortCommit(s(o).gitRevision)) },
    { header: 'AGE', cell: (o) => age(o.metadata?.creationTimestamp, opts.now) },
    { header: 'AVAILABLE', wide: true, cell: (o) => `${s(o).availableReplicas ?? 0}/${spec(o)?.replicas ?? 1}` },
    { header: 'STABLE', wide: true, cell: (o) => orDash(s(o).stableRS) },
    { header: 'CURRENT', wide: true, cell: (o) => orDash(s(o).currentPodHash) },
    { header: 'MESSAGE', wide: true, cell: (o) => s(o).message ?? '' },
  ];
  return table(items, columns, opts);
}

export function renderGitSyncList(items: readonly KubeObject[], opts: ListOptions): string {
  const g = (o: KubeObject) => o as unknown as GitSync;
  const ready = (o: KubeObject) => g(o).status?.conditions?.find((c) => c.type === 'Ready');
  const columns: Array<Column<KubeObject>> = [
    { header: 'NAME', cell: (o) => o.metadata?.name ?? '' },
    {
      header: 'READY',
      cell: (o) => {
        const c = ready(o);
        if (g(o).spec?.suspend) return opts.style.yellow('Suspended');
        return c ? (c.status === 'True' ? opts.style.green('True') : opts.style.red(c.status)) : 'Unknown';
      },
    },
    { header: 'COMMIT', cell: (o) => orDash(shortCommit(g(o).status?.lastSyncedCommit)) },
    { header: 'LAST SYNC', cell: (o) => (g(o).status?.lastSyncTime ? age(g(o).status?.lastSyncTime, opts.now) : '-') },
    { header: 'NEXT SYNC', cell: (o) => (g(o).status?.nextSyncAt ? relative(g(o).status?.nextSyncAt, opts.now) : '-') },
    {
      header: 'ERROR',
      cell: (o) => {
        const e = g(o).status?.lastError;
        if (!e) return '-';
        const at = e.file ? ` ${e.file}${e.line ? `:${e.line}` : ''}` : '';
        return `${e.reason}${at}`;
      },
    },
    { header: 'AGE', cell: (o) => age(o.metadata?.creationTimestamp, opts.now) },
    { header: 'URL', wide: true, cell: (o) => g(o).spec?.url ?? '' },
    {
      header: 'REF',
      wide: true,
      cell: (o) => {
        const ref = g(o).spec?.ref ?? {};
        return ref.branch ? `branch ${ref.branch}` : ref.tag ? `tag ${ref.tag}` : ref.commit ? `commit ${shortCommit(ref.commit)}` : 'default branch';
      },
    },
    { header: 'MESSAGE', wide: true, cell: (o) => ready(o)?.message ?? '' },
  ];
  return table(items, columns, opts);
}

export function renderAnalysisRunList(items: readonly KubeObject[], opts: ListOptions): string {
  const columns: Array<Column<KubeObject>> = [
    { header: 'NAME', cell: (o) => o.metadata?.name ?? '' },
    { header: 'ROLLOUT', cell: (o) => orDash(analysisRunView(o).rollout) },
    {
      header: 'KIND',
      cell: (o) => {
        const v = analysisRunView(o);
        return v.kind === 'step' && v.stepIndex !== undefined ? `step ${v.stepIndex + 1}` : orDash(v.kind);
      },
    },
    { header: 'PHASE', cell: (o) => opts.style.phase(analysisRunView(o).phase) },
    {
      header: 'METRICS',
      cell: (o) =>
        analysisRunView(o)
          .metrics.map((m) => `${m.name}=${m.phase}`)
          .join(',') || '-',
    },
    { header: 'AGE', cell: (o) => age(o.metadata?.creationTimestamp, opts.now) },
    { header: 'MESSAGE', wide: true, cell: (o) => analysisRunView(o).message ?? '' },
  ];
  return table(items, columns, opts);
}
