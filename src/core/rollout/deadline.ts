// The progress deadline: a rollout that stops making progress (pauses and analysis excluded) is Degraded, and aborted with progressDeadlineAbort. Pure.
import type { RolloutStatus } from '../../api/rollout.ts';
import { getCondition, setCondition } from '../shared/conditions.ts';
import { event, wakeAt, type Context } from './context.ts';

export const DEFAULT_PROGRESS_DEADLINE_S = 600;

/** Progress means the rollout moved: a step, a new revision, or a change in available pods. Pauses and analysis do not count. */
export function checkProgressDeadline(ctx: Context): 'aborted' | undefined {
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
