// plan(observed, now) -> actions + whole status + when to look again. Pure.
import { GIT_REVISION_ANNOTATION } from '../../api/git-sync.ts';
import { MANAGED_BY_ROLLOUT_ANNOTATION, POD_TEMPLATE_HASH_LABEL } from '../../api/meta.ts';
import { planBlueGreen } from './blue-green.ts';
import { planCanary } from './canary.ts';
import { getCondition, removeCondition, setCondition } from '../shared/conditions.ts';
import { availableReplicas, event, FINALIZER, newContext, readyReplicas, revisionOf, type Context } from './context.ts';
import { calculatePhase } from './phase.ts';
import { applyConditions } from './conditions.ts';
import { checkProgressDeadline } from './deadline.ts';
import { planRestart } from './restart.ts';
import { buildReplicaSet, bumpRevisionIfReused, cleanUpHistory, noteNewRevision } from './revisions.ts';
import { boundedRequeue, INVALID_SPEC_REQUEUE_MS } from '../shared/requeue.ts';
import { stableStringify } from '../shared/hash.ts';
import { selectorToString } from '../shared/selectors.ts';
import type { Observed, Plan } from './types.ts';
import { referencedServices, validateRollout } from './validate.ts';

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
  unpinFormerServices(ctx);
  cleanUpHistory(ctx);
  return finish(ctx);
}

/** Services this Rollout pinned but no longer names (blue-green to canary, a renamed Service): their pin comes off. */
function unpinFormerServices(ctx: Context): void {
  const named = new Set(referencedServices(ctx.rollout));
  for (const [service, svc] of Object.entries(ctx.observed.services)) {
    if (!named.has(service) && svc) ctx.actions.push({ type: 'setServiceSelector', service, hash: null });
  }
}

function planDeletion(ctx: Context): Plan {
  // the Services it names, and those it pinned earlier and names no more
  for (const [service, svc] of Object.entries(ctx.observed.services)) {
    if (svc?.spec?.selector?.[POD_TEMPLATE_HASH_LABEL] !== undefined || svc?.metadata?.annotations?.[MANAGED_BY_ROLLOUT_ANNOTATION] !== undefined) {
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
  // The ReplicaSet being created in this plan has its revision already: no second write for it.
  const creating = ctx.actions.find((a) => a.type === 'createReplicaSet');
  status.currentRevision = ctx.newRS ? revisionOf(ctx.newRS) : creating?.type === 'createReplicaSet' ? revisionOf(creating.replicaSet) : undefined;
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

  const next = boundedRequeue(ctx.wakeAt.length ? Math.min(...ctx.wakeAt) - ctx.now.getTime() : undefined);
  return { actions: withoutRepeats(ctx.actions), status: pruneUndefined(status), ...(next !== undefined ? { requeueAfterMs: next } : {}) };
}

/** A strategy planned again in the same plan (a completed step, a deadline abort) may decide the same action twice: once is enough. */
function withoutRepeats(actions: Plan['actions']): Plan['actions'] {
  const seen = new Set<string>();
  return actions.filter((a) => {
    const key = stableStringify(a);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
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

function pruneUndefined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}
