// A Rollout with its ReplicaSets, pods and AnalysisRuns, turned into what a person wants to see:
// revisions with their marks, what the rollout waits for and until when. Pure: objects and a
// clock in, a view out. Only the documented fields of src/api/ are read, never controller code.
import { ANALYSIS_KIND_LABEL, ROLLOUT_LABEL, STEP_INDEX_LABEL, type AnalysisRun, type MetricResult } from '../../api/analysis.ts';
import { durationToMs, formatMs } from '../../api/duration.ts';
import { GIT_REVISION_ANNOTATION, GIT_SYNC_ANNOTATION } from '../../api/git-sync.ts';
import { POD_TEMPLATE_HASH_LABEL } from '../../api/meta.ts';
import { REVISION_ANNOTATION, type CanaryStep, type Rollout } from '../../api/rollout.ts';
import type { KubeObject } from '../../ports/kube.ts';
import { relative, trimMillis } from '../view/format.ts';

export interface RolloutObjects {
  rollout: KubeObject;
  replicaSets: readonly KubeObject[];
  pods: readonly KubeObject[];
  analysisRuns: readonly KubeObject[];
}

export type RevisionMark = 'stable' | 'canary' | 'active' | 'preview';

export interface PodView {
  name: string;
  phase: string;
  ready: boolean;
  /** Ready containers / containers, e.g. "1/1". */
  containers: string;
  restarts: number;
  createdAt?: string;
  terminating: boolean;
}

export interface MeasurementView {
  phase: string;
  startedAt: string;
  finishedAt: string;
  query?: string;
  value?: string;
  condition?: string;
  noData: boolean;
  message: string;
}

export interface MetricView {
  name: string;
  phase: string;
  message?: string;
  count: number;
  successful: number;
  failed: number;
  inconclusive: number;
  error: number;
  consecutiveError: number;
  measurements: MeasurementView[];
}

export interface AnalysisRunView {
  name: string;
  namespace: string;
  kind?: string;
  /** 0-based step index for step analysis. */
  stepIndex?: number;
  rollout?: string;
  hash?: string;
  phase: string;
  message?: string;
  createdAt?: string;
  startedAt?: string;
  completedAt?: string;
  nextMeasurementAt?: string;
  terminated: boolean;
  metrics: MetricView[];
  /** The metric specs as the run holds them (conditions, limits, queries with placeholders). */
  spec: AnalysisRun['spec'] | undefined;
}

export interface RevisionView {
  name: string;
  hash: string;
  revision: number;
  marks: RevisionMark[];
  gitRevision?: string;
  images: string[];
  replicas: number;
  ready: number;
  available: number;
  createdAt?: string;
  /** When a delayed scale-down of this revision happens. */
  scaleDownAt?: string;
  pods: PodView[];
  analysisRuns: AnalysisRunView[];
}

export interface RolloutView {
  name: string;
  namespace: string;
  createdAt?: string;
  strategy: 'canary' | 'blueGreen';
  phase: string;
  message: string;
  /** The controller has not yet written status for the current spec (observedGeneration < generation). */
  stale: boolean;
  generation?: number;
  observedGeneration?: number;
  step?: { index: number; count: number; description: string };
  desiredWeight?: number;
  actualWeight?: number;
  replicas: { desired: number; current: number; updated: number; ready: number; available: number };
  stableHash?: string;
  currentHash?: string;
  currentRevision?: number;
  gitRevision?: string;
  gitSync?: string;
  aborted: boolean;
  abortedAt?: string;
  pauseReasons: string[];
  specPaused: boolean;
  invalidSpec: boolean;
  analysis?: { name: string; kind: string; phase: string; message?: string };
  /** What the rollout waits for, in words that name the command to run when a person is needed. */
  waitingFor?: string;
  /** Newest revision first. */
  revisions: RevisionView[];
}

type Obj = Record<string, any>;

const labelsOf = (o: KubeObject) => o.metadata?.labels ?? {};
const annotationsOf = (o: KubeObject) => o.metadata?.annotations ?? {};
const isControlledBy = (o: KubeObject, uid: string | undefined) => !!uid && (o.metadata?.ownerReferences ?? []).some((r) => r.uid === uid && r.controller);

export function podView(pod: KubeObject): PodView {
  const p = pod as Obj;
  const statuses: Obj[] = p.status?.containerStatuses ?? [];
  const containers: Obj[] = p.spec?.containers ?? [];
  const ready = (p.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');
  const readyContainers = statuses.filter((s) => s.ready).length;
  return {
    name: pod.metadata?.name ?? '',
    phase: p.status?.phase ?? 'Unknown',
    ready: ready && !pod.metadata?.deletionTimestamp,
    containers: `${statuses.length ? readyContainers : ready ? containers.length : 0}/${containers.length}`,
    restarts: statuses.reduce((n, s) => n + (Number(s.restartCount) || 0), 0),
    ...(pod.metadata?.creationTimestamp ? { createdAt: pod.metadata.creationTimestamp } : {}),
    terminating: !!pod.metadata?.deletionTimestamp,
  };
}

export function analysisRunView(run: KubeObject): AnalysisRunView {
  const r = run as Partial<AnalysisRun> & KubeObject;
  const labels = labelsOf(run);
  const step = labels[STEP_INDEX_LABEL];
  const metrics: MetricView[] = (r.status?.metricResults ?? []).map((m: MetricResult) => ({
    name: m.name,
    phase: m.phase,
    ...(m.message ? { message: m.message } : {}),
    count: m.count,
    successful: m.successful,
    failed: m.failed,
    inconclusive: m.inconclusive,
    error: m.error,
    consecutiveError: m.consecutiveError,
    measurements: (m.measurements ?? []).map((x) => ({
      phase: x.phase,
      startedAt: x.startedAt,
      finishedAt: x.finishedAt,
      ...(x.query !== undefined ? { query: x.query } : {}),
      ...(x.value !== undefined ? { value: x.value } : {}),
      ...(x.condition !== undefined ? { condition: x.condition } : {}),
      noData: x.noData === true,
      message: x.message,
    })),
  }));
  // Metrics of the spec that have no result yet are shown as Pending.
  for (const metric of r.spec?.metrics ?? []) {
    if (!metrics.some((m) => m.name === metric.name)) {
      metrics.push({
        name: metric.name,
        phase: 'Pending',
        count: 0,
        successful: 0,
        failed: 0,
        inconclusive: 0,
        error: 0,
        consecutiveError: 0,
        measurements: [],
      });
    }
  }
  return {
    name: run.metadata?.name ?? '',
    namespace: run.metadata?.namespace ?? '',
    ...(labels[ANALYSIS_KIND_LABEL] ? { kind: labels[ANALYSIS_KIND_LABEL] } : {}),
    ...(step !== undefined && /^\d+$/.test(step) ? { stepIndex: Number(step) } : {}),
    ...(labels[ROLLOUT_LABEL] ? { rollout: labels[ROLLOUT_LABEL] } : {}),
    ...(labels[POD_TEMPLATE_HASH_LABEL] ? { hash: labels[POD_TEMPLATE_HASH_LABEL] } : {}),
    phase: r.status?.phase ?? 'Pending',
    ...(r.status?.message ? { message: r.status.message } : {}),
    ...(run.metadata?.creationTimestamp ? { createdAt: run.metadata.creationTimestamp } : {}),
    ...(r.status?.startedAt ? { startedAt: r.status.startedAt } : {}),
    ...(r.status?.completedAt ? { completedAt: r.status.completedAt } : {}),
    ...(r.status?.nextMeasurementAt ? { nextMeasurementAt: r.status.nextMeasurementAt } : {}),
    terminated: r.spec?.terminate === true,
    metrics,
    spec: r.spec,
  };
}

function describeStep(step: CanaryStep | undefined): string {
  if (!step) return 'done';
  if (step.setWeight !== undefined) return `setWeight ${step.setWeight}`;
  if (step.pause) return step.pause.duration === undefined ? 'pause until promoted' : `pause ${formatDuration(step.pause.duration)}`;
  if (step.analysis) return `analysis ${step.analysis.templates.map((t) => t.templateName).join(', ')}`;
  if (step.setCanaryScale) {
    const s = step.setCanaryScale;
    if (s.matchTrafficWeight) return 'setCanaryScale matchTrafficWeight';
    return s.replicas !== undefined ? `setCanaryScale ${s.replicas} replicas` : `setCanaryScale ${s.weight ?? 0}%`;
  }
  return 'step';
}

function formatDuration(value: string | number): string {
  try {
    return formatMs(durationToMs(value));
  } catch {
    return String(value);
  }
}

export function buildRolloutView(objects: RolloutObjects, now: Date): RolloutView {
  const rollout = objects.rollout as unknown as Rollout & KubeObject;
  const name = rollout.metadata?.name ?? '';
  const namespace = rollout.metadata?.namespace ?? '';
  const status = rollout.status ?? {};
  const spec = rollout.spec ?? ({} as Rollout['spec']);
  const strategy = spec.strategy?.blueGreen ? 'blueGreen' : 'canary';
  const uid = rollout.metadata?.uid;
  const generation = rollout.metadata?.generation;
  const observedGeneration = status.observedGeneration;
  const stale = generation !== undefined && (observedGeneration === undefined || observedGeneration < generation);

  const runs = objects.analysisRuns.filter((r) => isControlledBy(r, uid) || labelsOf(r)[ROLLOUT_LABEL] === name).map(analysisRunView);
  const sets = objects.replicaSets.filter((rs) => isControlledBy(rs, uid));
  const marksOf = (hash: string): RevisionMark[] => {
    const marks: RevisionMark[] = [];
    if (hash === status.stableRS) marks.push('stable');
    if (strategy === 'canary' && hash === status.currentPodHash && hash !== status.stableRS) marks.push('canary');
    if (strategy === 'blueGreen') {
      const active = status.activeSelector ?? status.stableRS;
      if (hash === active) marks.push('active');
      if (hash === status.currentPodHash && hash !== active) marks.push('preview');
    }
    return marks;
  };
  const revisions: RevisionView[] = sets.map((rs) => {
    const r = rs as Obj;
    const hash = labelsOf(rs)[POD_TEMPLATE_HASH_LABEL] ?? '';
    const containers: Obj[] = r.spec?.template?.spec?.containers ?? [];
    const git = annotationsOf(rs)[GIT_REVISION_ANNOTATION];
    const scaleDownAt = status.scaleDownAt?.[hash];
    return {
      name: rs.metadata?.name ?? '',
      hash,
      revision: Number(annotationsOf(rs)[REVISION_ANNOTATION] ?? 0) || 0,
      marks: marksOf(hash),
      ...(git ? { gitRevision: git } : {}),
      images: containers.map((c) => String(c.image ?? '')),
      replicas: r.spec?.replicas ?? 0,
      ready: r.status?.readyReplicas ?? 0,
      available: r.status?.availableReplicas ?? 0,
      ...(rs.metadata?.creationTimestamp ? { createdAt: rs.metadata.creationTimestamp } : {}),
      ...(scaleDownAt ? { scaleDownAt } : {}),
      pods: objects.pods
        .filter((p) => isControlledBy(p, rs.metadata?.uid))
        .map(podView)
        .sort((a, b) => a.name.localeCompare(b.name)),
      analysisRuns: runs.filter((run) => run.hash === hash).sort(byCreation),
    };
  });
  revisions.sort((a, b) => b.revision - a.revision || a.name.localeCompare(b.name));

  const steps = spec.strategy?.canary?.steps ?? [];
  const index = status.currentStepIndex;
  const view: RolloutView = {
    name,
    namespace,
    ...(rollout.metadata?.creationTimestamp ? { createdAt: rollout.metadata.creationTimestamp } : {}),
    strategy,
    phase: status.phase ?? 'Unknown',
    message: status.message ?? (status.phase ? '' : 'The controller has not written a status yet (is it running?)'),
    stale,
    ...(generation !== undefined ? { generation } : {}),
    ...(observedGeneration !== undefined ? { observedGeneration } : {}),
    ...(strategy === 'canary' && steps.length > 0 && index !== undefined
      ? { step: { index, count: steps.length, description: describeStep(steps[index]) } }
      : {}),
    ...(status.desiredWeight !== undefined ? { desiredWeight: status.desiredWeight } : {}),
    ...(status.actualWeight !== undefined ? { actualWeight: status.actualWeight } : {}),
    replicas: {
      desired: spec.replicas ?? 1,
      current: status.replicas ?? 0,
      updated: status.updatedReplicas ?? 0,
      ready: status.readyReplicas ?? 0,
      available: status.availableReplicas ?? 0,
    },
    ...(status.stableRS ? { stableHash: status.stableRS } : {}),
    ...(status.currentPodHash ? { currentHash: status.currentPodHash } : {}),
    ...(status.currentRevision !== undefined ? { currentRevision: status.currentRevision } : {}),
    ...(status.gitRevision ? { gitRevision: status.gitRevision } : {}),
    ...(annotationsOf(rollout)[GIT_SYNC_ANNOTATION] ? { gitSync: annotationsOf(rollout)[GIT_SYNC_ANNOTATION] } : {}),
    aborted: status.abort === true,
    ...(status.abortedAt ? { abortedAt: status.abortedAt } : {}),
    pauseReasons: (status.pauseConditions ?? []).map((p) => p.reason),
    specPaused: spec.paused === true,
    invalidSpec: (status.conditions ?? []).some((c) => c.type === 'InvalidSpec' && c.status === 'True'),
    ...(status.analysis ? { analysis: status.analysis } : {}),
    revisions,
  };
  const waiting = waitingFor(view, rollout, runs, now);
  if (waiting) view.waitingFor = waiting;
  return view;
}

const byCreation = (a: AnalysisRunView, b: AnalysisRunView) => (a.createdAt ?? '').localeCompare(b.createdAt ?? '') || a.name.localeCompare(b.name);

/** What the rollout is waiting for, from the documented status fields; undefined when it waits for nothing. */
function waitingFor(view: RolloutView, rollout: Rollout, runs: AnalysisRunView[], now: Date): string | undefined {
  const status = rollout.status ?? {};
  const name = view.name;
  if (view.stale) return `the controller to act on generation ${view.generation} (it has seen ${view.observedGeneration ?? 'none'})`;
  if (view.invalidSpec) return 'a valid spec (see the message)';
  if (view.aborted) return `a decision: kubectl sluice retry ${name} to try this revision again, or change the template`;
  if (view.phase === 'Degraded') return 'pods to become available (the progress deadline has passed)';
  if (view.specPaused) return 'spec.paused to become false';
  if (view.pauseReasons.includes('UserPause')) return `resume: kubectl sluice resume ${name}`;
  if (view.pauseReasons.includes('InconclusiveAnalysis')) {
    return `a decision on inconclusive analysis: kubectl sluice promote ${name} or kubectl sluice abort ${name}`;
  }
  if (view.pauseReasons.includes('CanaryPauseStep')) {
    const step = rollout.spec?.strategy?.canary?.steps?.[status.currentStepIndex ?? 0];
    const since = status.pauseConditions?.find((p) => p.reason === 'CanaryPauseStep')?.startTime;
    if (step?.pause?.duration !== undefined && since) {
      try {
        const end = new Date(Date.parse(since) + durationToMs(step.pause.duration)).toISOString();
        return `the pause to end at ${trimMillis(end)} (${relative(end, now)}), or kubectl sluice promote ${name}`;
      } catch {
        // an unreadable duration: fall through to promotion
      }
    }
    return `promotion: kubectl sluice promote ${name}`;
  }
  if (view.pauseReasons.includes('BlueGreenPause')) return `promotion: kubectl sluice promote ${name}`;
  const analysis = status.analysis;
  if (analysis && (analysis.phase === 'Running' || analysis.phase === 'Pending')) {
    const run = runs.find((r) => r.name === analysis.name);
    const next = run?.nextMeasurementAt;
    return `analysis ${analysis.name}${next ? ` (next measurement at ${trimMillis(next)}, ${relative(next, now)})` : ''}`;
  }
  const bg = rollout.spec?.strategy?.blueGreen;
  if (bg && bg.autoPromotionSeconds !== undefined && status.previewReadyAt && status.currentPodHash !== status.stableRS) {
    const at = new Date(Date.parse(status.previewReadyAt) + bg.autoPromotionSeconds * 1000).toISOString();
    if (Date.parse(at) > now.getTime()) return `auto-promotion at ${trimMillis(at)} (${relative(at, now)}), or kubectl sluice promote ${name}`;
  }
  if (view.phase === 'Healthy') return undefined;
  return view.message || undefined;
}
