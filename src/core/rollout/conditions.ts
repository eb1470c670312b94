// The Rollout's conditions, with Kubernetes semantics (src/core/shared/conditions.ts), from its phase and state. Pure.
import { setCondition } from '../shared/conditions.ts';
import type { Context } from './context.ts';

export function applyConditions(ctx: Context, phase: string): void {
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
