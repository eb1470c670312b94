// plan(observed, now) -> actions + whole status + when to look again. Pure.
import { GIT_REVISION_ANNOTATION } from '../../api/git-sync.ts';
import { POD_TEMPLATE_HASH_LABEL } from '../../api/meta.ts';
import type { RolloutStatus } from '../../api/rollout.ts';
import type { Pod, ReplicaSet } from '../../api/workload.ts';
import { planBlueGreen } from './blue-green.ts';
import { planCanary } from './canary.ts';
import { getCondition, removeCondition, setCondition } from '../shared/conditions.ts';
import {
  availableReplicas,
  event,
  FINALIZER,
  hashOf,
  newContext,
  readyReplicas,
  REVISION_ANNOTATION,
  revisionOf,
  specReplicas,
  wakeAt,
  type Context,
} from './context.ts';
import { calculatePhase } from './phase.ts';
import { EPHEMERAL_METADATA_ANNOTATION } from './ephemeral.ts';
import { selectorToString } from '../shared/selectors.ts';
import type { Observed, Plan } from './types.ts';
import { referencedServices, validateRollout } from './validate.ts';

export const INVALID_SPEC_REQUEUE_MS = 5 * 60_000;
const DEFAULT_REVISION_HISTORY = 10;
const DEFAULT_PROGRESS_DEADLINE_S = 600;

export function plan(observed: Observed, now: Date): Plan {
  const ctx = newContext(observed, now);
  const { rollout } = ctx;

  if (rollout.metadata.deletionTimestamp) return planDeletion(ctx);

  const workload = observed.workload && 'error' in observed.workload ? undefined : observed.workload;
  const problems = validateRollout(rollout, observed.services, workload !== undefined);
  if (observed.workload && 'error' in observed.workload) problems.push(observed.workload.error);
  if (observed.templateError) problems.push(observed.templateError);
  if (problems.length > 0) return planInvalid(ctx, problems);
  ctx.status.conditions = removeCondition(ctx.status.conditions ?? [], 'InvalidSpec');

  const wantsFinalizer = referencedServices(rollout).length > 0;
  const hasFinalizer = (rollout.metadata as { finalizers?: string[] }).finalizers?.includes(FINALIZER) ?? false;
  if (wantsFinalizer !== hasFinalizer) ctx.actions.push({ type: 'setFinalizer', present: wantsFinalizer });

  if (!ctx.newRS) {
    ctx.actions.push({ type: 'createReplicaSet', replicaSet: buildReplicaSet(ctx) });
    if (!ctx.status.stableRS || !ctx.rsByHash.has(ctx.status.stableRS)) {
      event(ctx, 'RolloutCreated', `Created ReplicaSet ${rollout.metadata.name}-${ctx.newHash} with ${ctx.replicas} replicas (first revision, no steps)`);
    }
  } else {
    bumpRevisionIfReused(ctx, ctx.newRS);
  }

  // No stable revision yet (first deploy, or its ReplicaSet is gone): the current one is stable.
  if (!ctx.status.stableRS || !ctx.rsByHash.has(ctx.status.stableRS)) {
    if (!ctx.newRS) {
      countReplicas(ctx);
      return finish(ctx);
    }
    ctx.status.stableRS = ctx.newHash;
  }

  noteNewRevision(ctx);
  const runStrategy = () => {
    if (rollout.spec.strategy.blueGreen) planBlueGreen(ctx, rollout.spec.strategy.blueGreen);
    else planCanary(ctx, rollout.spec.strategy.canary ?? {});
  };
  runStrategy();
  countReplicas(ctx);
  // A progress deadline that aborts is decided from this reconcile's counts; the strategy then
  // plans the abort like any other, in this same plan (its later decisions win).
  if (checkProgressDeadline(ctx) === 'aborted') runStrategy();
  planRestart(ctx);
  cleanUpHistory(ctx);
  return finish(ctx);
}

/** A change of desired revision resets the step state; going back to stable is a fast rollback. */
function noteNewRevision(ctx: Context): void {
  const { status, previous, newHash } = ctx;
  if (previous.currentPodHash === newHash) return;
  // The same number whether or not the ReplicaSet exists yet, so a re-planned transition reads the same.
  const revision = ctx.newRS ? revisionOf(ctx.newRS) : nextRevision(ctx);
  status.currentPodHash = newHash;
  status.currentStepIndex = 0;
  status.currentStepStartedAt = ctx.nowIso;
  status.progressStartedAt = ctx.nowIso;
  status.abort = undefined;
  status.abortedAt = undefined;
  status.promoteFull = undefined;
  status.controllerPause = undefined;
  status.previewReadyAt = undefined;
  status.analysis = undefined;
  status.pauseConditions = (status.pauseConditions ?? []).filter((p) => p.reason === 'UserPause');
  if (status.pauseConditions.length === 0) status.pauseConditions = undefined;
  for (const run of ctx.observed.analysisRuns) {
    if (!run.terminated && run.labels[POD_TEMPLATE_HASH_LABEL] !== newHash) ctx.actions.push({ type: 'terminateAnalysisRun', name: run.name });
  }
  if (previous.currentPodHash === undefined) return;
  if (newHash === status.stableRS) {
    event(ctx, 'RolledBack', `Desired revision is the stable revision ${newHash}: fast rollback, steps skipped`);
  } else {
    event(ctx, 'RolloutUpdated', `New revision ${newHash} (revision ${revision}); starting from the stable revision ${status.stableRS}`);
  }
}

function nextRevision(ctx: Context): number {
  return Math.max(0, ...ctx.observed.replicaSets.map(revisionOf)) + 1;
}

function buildReplicaSet(ctx: Context): ReplicaSet {
  const { rollout, newHash } = ctx;
  const template = structuredClone(rollout.spec.template ?? {}) as {
    metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
    spec?: { affinity?: { podAntiAffinity?: Record<string, unknown[]> } };
  };
  template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, [POD_TEMPLATE_HASH_LABEL]: newHash } };
  const rsLabels = { ...template.metadata.labels };
  const revision = nextRevision(ctx);
  const firstRevision = !ctx.status.stableRS || !ctx.rsByHash.has(ctx.status.stableRS);
  const annotations: Record<string, string> = { [REVISION_ANNOTATION]: String(revision) };
  // The pods are created with the metadata of their role (Argo's ephemeral metadata), and away
  // from the stable revision's nodes when antiAffinity asks for it.
  const { canary, blueGreen } = rollout.spec.strategy;
  const role = firstRevision ? (canary?.stableMetadata ?? blueGreen?.activeMetadata) : (canary?.canaryMetadata ?? blueGreen?.previewMetadata);
  if (role && (Object.keys(role.labels ?? {}).length || Object.keys(role.annotations ?? {}).length)) {
    template.metadata.labels = { ...template.metadata.labels, ...role.labels };
    template.metadata.annotations = { ...template.metadata.annotations, ...role.annotations };
    annotations[EPHEMERAL_METADATA_ANNOTATION] = JSON.stringify(role);
  }
  const antiAffinity = (canary ?? blueGreen)?.antiAffinity;
  if (antiAffinity && !firstRevision) {
    const term = {
      labelSelector: { matchExpressions: [{ key: POD_TEMPLATE_HASH_LABEL, operator: 'In', values: [ctx.status.stableRS] }] },
      topologyKey: 'kubernetes.io/hostname',
    };
    const spec = (template.spec ??= {});
    const anti = { ...spec.affinity?.podAntiAffinity };
    if (antiAffinity.requiredDuringSchedulingIgnoredDuringExecution) {
      anti.requiredDuringSchedulingIgnoredDuringExecution = [...(anti.requiredDuringSchedulingIgnoredDuringExecution ?? []), term];
    } else {
      const weight = antiAffinity.preferredDuringSchedulingIgnoredDuringExecution?.weight ?? 1;
      anti.preferredDuringSchedulingIgnoredDuringExecution = [
        ...(anti.preferredDuringSchedulingIgnoredDuringExecution ?? []),
        { weight, podAffinityTerm: term },
      ];
    }
    spec.affinity = { ...spec.affinity, podAntiAffinity: anti };
  }
  const gitRevision = rollout.metadata.annotations?.[GIT_REVISION_ANNOTATION];
  if (gitRevision) annotations[GIT_REVISION_ANNOTATION] = gitRevision;
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${rollout.metadata.name}-${newHash}`,
      namespace: rollout.metadata.namespace,
      labels: rsLabels,
      annotations,
      ownerReferences: [
        {
          apiVersion: rollout.apiVersion,
          kind: 'Rollout',
          name: rollout.metadata.name as string,
          uid: rollout.metadata.uid as string,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      replicas: firstRevision ? ctx.replicas : 0,
      minReadySeconds: rollout.spec.minReadySeconds ?? 0,
      selector: {
        matchLabels: { ...rollout.spec.selector?.matchLabels, [POD_TEMPLATE_HASH_LABEL]: newHash },
        ...(rollout.spec.selector?.matchExpressions ? { matchExpressions: rollout.spec.selector.matchExpressions } : {}),
      },
      template,
    },
  } as ReplicaSet;
}

/** Going back to an older ReplicaSet makes it the newest revision again, as Deployments do. */
function bumpRevisionIfReused(ctx: Context, rs: ReplicaSet): void {
  const max = Math.max(0, ...ctx.observed.replicaSets.map(revisionOf));
  if (revisionOf(rs) >= max && ctx.observed.replicaSets.filter((r) => revisionOf(r) === max).length === 1) return;
  ctx.actions.push({
    type: 'scaleReplicaSet',
    name: rs.metadata.name as string,
    replicas: specReplicas(rs),
    annotations: { [REVISION_ANNOTATION]: String(max + 1) },
  });
}

function planDeletion(ctx: Context): Plan {
  for (const service of referencedServices(ctx.rollout)) {
    if (ctx.observed.services[service]?.spec?.selector?.[POD_TEMPLATE_HASH_LABEL] !== undefined) {
      ctx.actions.push({ type: 'setServiceSelector', service, hash: null });
    }
  }
  ctx.actions.push({ type: 'setFinalizer', present: false });
  return { actions: ctx.actions, status: ctx.previous };
}

function planInvalid(ctx: Context, problems: string[]): Plan {
  const message = `Invalid spec: ${problems.join('; ')}`;
  const { status } = ctx;
  status.phase = 'Degraded';
  status.message = message;
  status.observedGeneration = ctx.rollout.metadata.generation;
  status.conditions = setCondition(status.conditions ?? [], { type: 'InvalidSpec', status: 'True', reason: 'InvalidSpec', message }, ctx.now);
  if (getCondition(ctx.previous.conditions, 'InvalidSpec')?.message !== message) event(ctx, 'InvalidSpec', message, 'Warning');
  return { actions: ctx.actions, status, requeueAfterMs: INVALID_SPEC_REQUEUE_MS };
}

/** Recreates pods older than spec.restartAt, a few at a time, once everything is available. */
function planRestart(ctx: Context): void {
  const restartAt = ctx.rollout.spec.restartAt;
  if (!restartAt || ctx.status.restartedAt === restartAt) return;
  const at = Date.parse(restartAt);
  if (!Number.isFinite(at)) return;
  if (at > ctx.now.getTime()) return wakeAt(ctx, at);
  const live = [...ctx.rsByHash.values()].filter((rs) => specReplicas(rs) > 0);
  const old = ctx.observed.pods.filter((p) => !p.metadata.deletionTimestamp && Date.parse(p.metadata.creationTimestamp ?? '') < at);
  if (old.length === 0) {
    ctx.status.restartedAt = restartAt;
    event(ctx, 'RolloutRestarted', `All pods created before ${restartAt} were recreated`);
    return;
  }
  // One batch at a time: wait until the previous batch is replaced and ready. Pods, not
  // ReplicaSet status, are counted: the status can still show a pod just deleted as available.
  const readyPods = ctx.observed.pods.filter((p) => !p.metadata.deletionTimestamp && isPodReady(p)).length;
  const wanted = live.reduce((n, rs) => n + specReplicas(rs), 0);
  if (readyPods < wanted || live.some((rs) => availableReplicas(rs) < specReplicas(rs))) return;
  const batch = Math.max(1, Math.floor(ctx.replicas * 0.25));
  for (const pod of old.slice(0, batch)) ctx.actions.push({ type: 'deletePod', name: pod.metadata.name as string });
}

function isPodReady(pod: Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Deletes scaled-down ReplicaSets beyond revisionHistoryLimit, oldest first. */
function cleanUpHistory(ctx: Context): void {
  const limit = ctx.rollout.spec.revisionHistoryLimit ?? DEFAULT_REVISION_HISTORY;
  const keep = new Set([ctx.newHash, ctx.status.stableRS]);
  const old = ctx.observed.replicaSets
    .filter((rs) => !keep.has(hashOf(rs)) && specReplicas(rs) === 0 && (rs.status?.replicas ?? 0) === 0)
    .sort((a, b) => revisionOf(b) - revisionOf(a));
  for (const rs of old.slice(limit)) ctx.actions.push({ type: 'deleteReplicaSet', name: rs.metadata.name as string });
}

/** Replica counts and identity fields of status, from the observed ReplicaSets. */
function countReplicas(ctx: Context): void {
  const { status, rollout } = ctx;
  const sets = [...ctx.rsByHash.values()];
  status.observedGeneration = rollout.metadata.generation;
  status.replicas = sets.reduce((n, rs) => n + (rs.status?.replicas ?? 0), 0);
  status.updatedReplicas = ctx.newRS?.status?.replicas ?? 0;
  status.readyReplicas = sets.reduce((n, rs) => n + readyReplicas(rs), 0);
  status.availableReplicas = sets.reduce((n, rs) => n + availableReplicas(rs), 0);
  // Blue-green: ready and available are those behind the active Service (as Argo Rollouts), not both stacks.
  const active = rollout.spec.strategy.blueGreen && status.activeSelector ? ctx.rsByHash.get(status.activeSelector) : undefined;
  if (active) {
    status.readyReplicas = readyReplicas(active);
    status.availableReplicas = availableReplicas(active);
  }
  status.selector = selectorToString(rollout.spec.selector ?? {});
  status.currentRevision = ctx.newRS ? revisionOf(ctx.newRS) : undefined;
  status.gitRevision = rollout.metadata.annotations?.[GIT_REVISION_ANNOTATION];
  const workload = ctx.observed.workload;
  status.workloadObservedGeneration = workload && !('error' in workload) ? String(workload.generation) : undefined;
  status.stepCount = rollout.spec.strategy.canary?.steps?.length;
}

/** Common status: phase, conditions, requeue. */
function finish(ctx: Context): Plan {
  const { status } = ctx;
  const phase = calculatePhase(ctx);
  status.phase = phase.phase;
  status.message = phase.message;
  applyConditions(ctx, phase.phase);
  scaleDownWorkload(ctx, phase.phase);

  const next = ctx.wakeAt.length ? Math.min(...ctx.wakeAt) - ctx.now.getTime() : undefined;
  return { actions: ctx.actions, status: pruneUndefined(status), ...(next !== undefined ? { requeueAfterMs: Math.max(0, next) } : {}) };
}

/**
 * workloadRef.scaleDown: the Deployment the template comes from hands its pods over to the Rollout.
 * onsuccess: scaled to 0 once the Rollout is Healthy; progressively: down by as many pods as the
 * Rollout has ready, then to 0 once Healthy; never (default): left alone.
 */
function scaleDownWorkload(ctx: Context, phase: string): void {
  const workload = ctx.observed.workload;
  const mode = ctx.rollout.spec.workloadRef?.scaleDown ?? 'never';
  if (!workload || 'error' in workload || mode === 'never') return;
  let target: number | undefined;
  if (phase === 'Healthy') target = 0;
  else if (mode === 'progressively' && (ctx.status.readyReplicas ?? 0) > 0) target = Math.max(0, ctx.replicas - (ctx.status.readyReplicas ?? 0));
  if (target !== undefined && target < workload.replicas) ctx.actions.push({ type: 'scaleDeployment', name: workload.name, replicas: target });
}

/** Progress means the rollout moved: a step, a new revision, or a change in available pods. Pauses and analysis do not count. */
function checkProgressDeadline(ctx: Context): 'aborted' | undefined {
  const { status, previous, rollout } = ctx;
  const seconds = rollout.spec.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_S;
  const waiting = status.currentPodHash !== status.stableRS || (status.availableReplicas ?? 0) < ctx.replicas;
  // Blocking analysis (a step, or before/after a blue-green switch) is waiting too; background analysis is not.
  const blocking = (a: RolloutStatus['analysis']) => !!a && a.kind !== 'background' && (a.phase === 'Running' || a.phase === 'Pending');
  const paused = (status.pauseConditions?.length ?? 0) > 0 || rollout.spec.paused === true || blocking(status.analysis);
  const resumed = (previous.phase === 'Paused' && !paused) || (blocking(previous.analysis) && !blocking(status.analysis));
  const moved = previous.availableReplicas !== status.availableReplicas || previous.currentStepIndex !== status.currentStepIndex;
  if (!status.progressStartedAt || moved || resumed) status.progressStartedAt = ctx.nowIso;
  const wasExceeded =
    getCondition(previous.conditions, 'Progressing')?.reason === 'ProgressDeadlineExceeded' && previous.currentPodHash === status.currentPodHash;
  if (!waiting || paused || status.abort) return undefined;
  if (wasExceeded && !moved && !resumed) {
    ctx.deadlineExceeded = true;
    return undefined;
  }
  const deadline = Date.parse(status.progressStartedAt) + seconds * 1000;
  if (ctx.now.getTime() < deadline) {
    wakeAt(ctx, deadline);
    return undefined;
  }
  ctx.deadlineExceeded = true;
  const message = `ReplicaSet ${rollout.metadata.name}-${status.currentPodHash} has not progressed for ${seconds}s (progressDeadlineSeconds)`;
  status.conditions = setCondition(status.conditions ?? [], { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message }, ctx.now);
  event(ctx, 'ProgressDeadlineExceeded', message, 'Warning');
  if (!rollout.spec.progressDeadlineAbort) return undefined;
  status.abort = true;
  status.abortedAt = ctx.nowIso;
  status.abortMessage = `Rollout aborted: ${message}`;
  return 'aborted';
}

function applyConditions(ctx: Context, phase: string): void {
  const { status, now } = ctx;
  let conditions = status.conditions ?? [];
  if (status.abort)
    conditions = setCondition(
      conditions,
      { type: 'Progressing', status: 'False', reason: 'RolloutAborted', message: status.message ?? 'Rollout aborted' },
      now,
    );
  else if (ctx.deadlineExceeded) {
    // checkProgressDeadline owns the condition while the deadline stays exceeded
  } else if (phase === 'Paused')
    conditions = setCondition(conditions, { type: 'Progressing', status: 'Unknown', reason: 'RolloutPaused', message: status.message ?? 'Paused' }, now);
  else if (phase === 'Healthy')
    conditions = setCondition(conditions, { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: 'Rollout is healthy' }, now);
  else
    conditions = setCondition(
      conditions,
      { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: status.message ?? 'Rollout is progressing' },
      now,
    );
  const available = (status.availableReplicas ?? 0) >= ctx.replicas;
  conditions = setCondition(
    conditions,
    { type: 'Available', status: available ? 'True' : 'False', reason: available ? 'AvailableReplicas' : 'NotEnoughAvailableReplicas' },
    now,
  );
  conditions = setCondition(
    conditions,
    { type: 'Paused', status: phase === 'Paused' ? 'True' : 'False', reason: phase === 'Paused' ? 'RolloutPaused' : 'RolloutRunning' },
    now,
  );
  conditions = setCondition(
    conditions,
    { type: 'Completed', status: phase === 'Healthy' ? 'True' : 'False', reason: phase === 'Healthy' ? 'RolloutCompleted' : 'RolloutNotCompleted' },
    now,
  );
  // Argo Rollouts' Healthy condition, so `kubectl wait --for=condition=Healthy` works as there.
  conditions = setCondition(
    conditions,
    {
      type: 'Healthy',
      status: phase === 'Healthy' ? 'True' : 'False',
      reason: 'RolloutHealthy',
      message: phase === 'Healthy' ? 'Rollout is healthy' : 'Rollout is not healthy',
    },
    now,
  );
  status.conditions = conditions;
}

function pruneUndefined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}
