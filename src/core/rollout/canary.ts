// Canary by replica weights: the canary ReplicaSet's share of pods is the traffic weight.
import { durationToMs, formatMs } from '../../api/duration.ts';
import type { CanaryStep, CanaryStrategy } from '../../api/rollout.ts';
import type { ReplicaSet } from '../../api/workload.ts';
import {
  addPause,
  availableReplicas,
  event,
  hasPause,
  isUserPaused,
  readyReplicas,
  removePause,
  scale,
  setSelector,
  specReplicas,
  wakeAt,
  type Context,
} from './context.ts';
import { actualWeight, approximateWeight, calculateBudgets, calculateCanaryMove, type RsCounts, type Targets } from './replicas.ts';
import { syncEphemeralMetadata } from './ephemeral.ts';
import { backgroundAnalysis, stepAnalysis, terminateAnalysis } from './analysis-gates.ts';
import { scaleDownOthers } from './scale-down.ts';
import { canaryScaleAtStep, describeStep, stepLabel, weightAtStep } from './steps.ts';

const counts = (rs: ReplicaSet | undefined): RsCounts => ({ spec: specReplicas(rs), available: availableReplicas(rs) });

/**
 * Plans the canary. A step that completes is followed by the next one in the same plan (its
 * weight, its pause, its analysis), so a rollout never spends a reconcile and a status write on
 * "step N starting"; bounded by the number of steps.
 */
export function planCanary(ctx: Context, canary: CanaryStrategy): void {
  const rounds = (canary.steps?.length ?? 0) + 1;
  for (let round = 0; round < rounds; round++) {
    ctx.stepAdvanced = false;
    planCanaryStep(ctx, canary);
    if (!ctx.stepAdvanced) return;
  }
  wakeAt(ctx, ctx.now.getTime()); // more steps completed than rounds: carry on at once
}

function planCanaryStep(ctx: Context, canary: CanaryStrategy): void {
  const { status, replicas: n } = ctx;
  const stableHash = status.stableRS as string;
  const stable = ctx.rsByHash.get(stableHash);
  const steps = canary.steps ?? [];
  setSelector(ctx, canary.stableService, stableHash);

  if (ctx.newHash === stableHash) return planSteady(ctx, canary, stable);

  const canaryRS = ctx.newRS;
  if (!status.abort) setSelector(ctx, canary.canaryService, ctx.newHash);
  const others = scaleDownOthers(ctx, new Set([stableHash, ctx.newHash]));

  if (status.abort) return planAbort(ctx, canary, stable, canaryRS);

  if (status.promoteFull && (status.currentStepIndex ?? 0) < steps.length) {
    status.currentStepIndex = steps.length;
    removePause(ctx, 'CanaryPauseStep');
    removePause(ctx, 'InconclusiveAnalysis');
    status.controllerPause = undefined;
    event(ctx, 'PromotedFull', 'Promoted to the end: remaining steps skipped');
  }
  const index = Math.min(Math.max(status.currentStepIndex ?? 0, 0), steps.length);
  status.currentStepIndex = index;
  const final = index >= steps.length;
  const weight = final ? 100 : weightAtStep(steps, index);
  const budgets = calculateBudgets(n, canary.maxSurge, canary.maxUnavailable);
  const desired = desiredCounts(canary, steps, index, final, n, weight, budgets.maxSurge, stable);
  const canaryWant = desired.canary;
  const stableWant = desired.stable;

  syncEphemeralMetadata(ctx, stable, canary.stableMetadata);
  syncEphemeralMetadata(ctx, canaryRS, canary.canaryMetadata);
  const move = calculateCanaryMove({
    replicas: n,
    budgets,
    desired,
    canary: canaryRS ? counts(canaryRS) : undefined,
    stable: counts(stable),
    othersSpec: others.spec,
  });
  scale(ctx, canaryRS, move.canary);
  scale(ctx, stable, move.stable);
  status.desiredWeight = weight;
  status.actualWeight = actualWeight(readyReplicas(canaryRS), readyReplicas(stable) + others.ready);

  const reached =
    canaryRS !== undefined &&
    progressThresholdMet(canary, canaryRS, canaryWant) &&
    specReplicas(stable) === stableWant &&
    (stable?.status?.replicas ?? 0) <= stableWant &&
    others.spec === 0;
  const waiting = `waiting for ${canaryWant} canary pod(s) available (${availableReplicas(canaryRS)} now) and ${stableWant} stable`;

  backgroundAnalysis(ctx, canary, index);
  if (status.abort) return planAbort(ctx, canary, stable, canaryRS);

  if (isUserPaused(ctx)) {
    ctx.progress = `Paused by user at step ${stepLabel(index, steps.length)} (${describeStep(steps[index])})`;
    return;
  }

  if (final) {
    if (!reached) {
      ctx.progress = `Promoting: ${waiting}`;
      return;
    }
    return promote(ctx, canary, stableHash);
  }

  const step = steps[index]!;
  const label = stepLabel(index, steps.length);
  if (step.setWeight !== undefined || step.setCanaryScale) {
    if (reached) advance(ctx, index, steps.length, describeStep(step));
    else ctx.progress = `Step ${label} (${describeStep(step)}): ${waiting}`;
    return;
  }
  if (step.pause) {
    if (status.controllerPause && !hasPause(status, 'CanaryPauseStep')) {
      event(ctx, 'Promoted', `Promoted by user at step ${label} (${describeStep(step)})`);
      return advance(ctx, index, steps.length, describeStep(step));
    }
    const pause = addPause(ctx, 'CanaryPauseStep');
    if (!status.controllerPause) event(ctx, 'RolloutPaused', `Paused at step ${label} (${describeStep(step)})`);
    status.controllerPause = true;
    if (step.pause.duration === undefined) {
      ctx.progress = `Step ${label}: paused until promoted (kubectl sluice promote ${ctx.rollout.metadata.name})`;
      return;
    }
    const end = Date.parse(pause.startTime) + durationToMs(step.pause.duration);
    if (ctx.now.getTime() >= end) {
      removePause(ctx, 'CanaryPauseStep');
      return advance(ctx, index, steps.length, describeStep(step));
    }
    wakeAt(ctx, end);
    // An absolute end time: a message that counted down would change (and be written) every second.
    ctx.progress = `Step ${label}: paused for ${formatMs(end - Date.parse(pause.startTime))}, until ${new Date(end).toISOString()}`;
    return;
  }
  if (step.analysis) {
    const gate = stepAnalysis(ctx, step.analysis, index, label);
    if (gate === 'Successful') return advance(ctx, index, steps.length, describeStep(step));
    if (gate === 'Failed') return planAbort(ctx, canary, stable, canaryRS);
  }
}

function advance(ctx: Context, index: number, count: number, description: string): void {
  const { status } = ctx;
  status.currentStepIndex = index + 1;
  status.currentStepStartedAt = ctx.nowIso;
  status.controllerPause = undefined;
  removePause(ctx, 'CanaryPauseStep');
  event(ctx, 'StepCompleted', `Step ${stepLabel(index, count)} completed (${description})`);
  ctx.progress = index + 1 >= count ? 'All steps completed: promoting' : `Step ${stepLabel(index + 1, count)} starting`;
  ctx.stepAdvanced = true;
}

function promote(ctx: Context, canary: CanaryStrategy, oldStable: string): void {
  const { status } = ctx;
  status.stableRS = ctx.newHash;
  status.currentStepIndex = canary.steps?.length ?? 0;
  status.controllerPause = undefined;
  status.promoteFull = undefined;
  const delay = canary.scaleDownDelaySeconds ?? 0;
  if (delay > 0) status.scaleDownAt = { ...status.scaleDownAt, [oldStable]: new Date(ctx.now.getTime() + delay * 1000).toISOString() };
  terminateAnalysis(ctx, () => true);
  setSelector(ctx, canary.canaryService, ctx.newHash);
  setSelector(ctx, canary.stableService, ctx.newHash);
  event(ctx, 'RolloutCompleted', `Revision ${ctx.newHash} promoted to stable`);
  ctx.progress = `Promoted revision ${ctx.newHash} to stable`;
  wakeAt(ctx, ctx.now.getTime());
}

/** Abort: all traffic back to stable at once. The canary goes to zero now (or after abortScaleDownDelaySeconds). */
function planAbort(ctx: Context, canary: CanaryStrategy, stable: ReplicaSet | undefined, canaryRS: ReplicaSet | undefined): void {
  const { status } = ctx;
  status.abortedAt ??= ctx.nowIso;
  status.abortMessage ??= `Rollout aborted: traffic returned to the stable revision ${status.stableRS}`;
  if (ctx.previous.abort !== true || ctx.previous.phase !== 'Degraded') {
    event(ctx, 'RolloutAborted', status.abortMessage, 'Warning');
  }
  removePause(ctx, 'CanaryPauseStep');
  removePause(ctx, 'InconclusiveAnalysis');
  status.controllerPause = undefined;
  // Time to safety first (different on purpose from Argo Rollouts, which takes the canary down
  // within maxUnavailable): with replica weights every canary pod takes traffic, so the canary goes
  // to zero in this plan and the stable revision gets every replica at once. abortScaleDownDelaySeconds
  // keeps the canary pods (0: until a retry or a new revision, Argo's meaning of 0; N: N seconds);
  // either way the canary Service points at stable at once.
  const n = ctx.replicas;
  const delay = canary.abortScaleDownDelaySeconds;
  const scaleDownAt = delay === undefined ? 0 : Date.parse(status.abortedAt) + delay * 1000;
  const keepCanary = delay === 0 || ctx.now.getTime() < scaleDownAt;
  if (delay !== undefined && delay > 0 && keepCanary) wakeAt(ctx, scaleDownAt);
  scale(ctx, stable, n);
  scale(ctx, canaryRS, keepCanary ? specReplicas(canaryRS) : 0);
  syncEphemeralMetadata(ctx, stable, canary.stableMetadata);
  terminateAnalysis(ctx, () => true);
  status.desiredWeight = 0;
  status.actualWeight = actualWeight(readyReplicas(canaryRS), readyReplicas(stable));
  setSelector(ctx, canary.canaryService, status.stableRS as string);
  ctx.progress = status.abortMessage;
}

/** Nothing to roll out: the stable revision takes everything; leftovers go away (after their delay). */
function planSteady(ctx: Context, canary: CanaryStrategy, stable: ReplicaSet | undefined): void {
  const { status } = ctx;
  const stableHash = status.stableRS as string;
  setSelector(ctx, canary.canaryService, stableHash);
  scale(ctx, stable, ctx.replicas);
  syncEphemeralMetadata(ctx, stable, canary.stableMetadata);
  const others = scaleDownOthers(ctx, new Set([stableHash]));
  terminateAnalysis(ctx, () => true);
  status.currentStepIndex = canary.steps?.length ?? 0;
  status.desiredWeight = 100;
  status.actualWeight = actualWeight(readyReplicas(stable), others.ready);
  if (availableReplicas(stable) < ctx.replicas)
    ctx.progress = `Waiting for ${ctx.replicas} pod(s) of revision ${stableHash} available (${availableReplicas(stable)} now)`;
}

/**
 * The canary and stable counts the current step asks for. A weight is approximated as Argo Rollouts
 * does (using the surge allowance); setCanaryScale and dynamicStableScale, which Argo allows only
 * with traffic routing, size the canary explicitly. minPodsPerReplicaSet lifts a ReplicaSet that
 * runs any pods to at least that many.
 */
function desiredCounts(
  canary: CanaryStrategy,
  steps: CanaryStep[],
  index: number,
  final: boolean,
  n: number,
  weight: number,
  maxSurge: number,
  stable: ReplicaSet | undefined,
): Targets {
  const byWeight = approximateWeight(n, weight, maxSurge);
  const explicit = final ? undefined : canaryScaleAtStep(steps, index, n);
  let desired: Targets =
    explicit !== undefined
      ? { canary: explicit, stable: canary.dynamicStableScale ? Math.max(weight < 100 ? 1 : 0, n - explicit) : byWeight.stable }
      : canary.dynamicStableScale
        ? { canary: byWeight.canary, stable: Math.max(weight < 100 ? 1 : 0, n - byWeight.canary) }
        : byWeight;
  // With a scale-down delay the old stable keeps its pods past the last step until its delay ends.
  if (final && (canary.scaleDownDelaySeconds ?? 0) > 0) desired = { canary: n, stable: specReplicas(stable) };
  const min = Math.min(canary.minPodsPerReplicaSet ?? 0, n);
  const lift = (count: number) => (count > 0 ? Math.max(count, min) : count);
  return { canary: lift(desired.canary), stable: lift(desired.stable) };
}

/** The canary has what the step needs: all desired pods available, or replicaProgressThreshold of them. */
function progressThresholdMet(canary: CanaryStrategy, rs: ReplicaSet, desired: number): boolean {
  const threshold = canary.replicaProgressThreshold;
  const available = availableReplicas(rs);
  if (!threshold || threshold.value < 0) return specReplicas(rs) === desired && available >= desired;
  if (specReplicas(rs) !== desired) return false;
  if (threshold.type === 'Percent') return desired === 0 || (available * 100) / desired >= threshold.value;
  return available >= Math.min(threshold.value, desired);
}
